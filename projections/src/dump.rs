//! Every row of a projection's tables, in a canonical text form: how a test
//! proves that a replayed view equals the live one.

use store::StoreError;
use store::db::{Database, sql};

use crate::Projection;

/// The rows of `table` as JSON objects, sorted.
pub async fn table(db: &Database, table: &str) -> Result<Vec<String>, StoreError> {
    let rows = match db {
        Database::Sqlite { .. } => {
            let columns = db
                .fetch_all(sql("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table))
                .await?;
            let mut pairs = Vec::new();
            for column in &columns {
                let name: String = column.get(0)?;
                pairs.push(format!("'{name}', \"{name}\""));
            }
            if pairs.is_empty() {
                return Err(StoreError::Config(format!("no table named {table}")));
            }
            db.fetch_all(sql(format!(
                "SELECT json_object({}) FROM {table}",
                pairs.join(", ")
            )))
            .await?
        }
        Database::Postgres { .. } => {
            db.fetch_all(sql(format!(
                "SELECT row_to_json(t)::text FROM {table} AS t"
            )))
            .await?
        }
    };
    let mut out = rows
        .iter()
        .map(|row| row.get::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    Ok(out)
}

/// The rows of every table of `projection`, table by table.
pub async fn projection(
    db: &Database,
    projection: &dyn Projection,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut out = Vec::new();
    for name in projection.tables() {
        out.push(((*name).to_owned(), table(db, name).await?));
    }
    Ok(out)
}
