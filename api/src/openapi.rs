//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AllureConnect API",
        description = "Host SCORM, xAPI, cmi5 and AICC content: workspaces, API keys, the event log.\n\n\
            Authenticate with `Authorization: Bearer <key>`; `ac_live_` keys see live data, `ac_test_` keys \
            sandbox data. Errors are `{\"error\": {\"code\", \"message\"}}`. Writes return the log `position` of \
            their last event; pass it as `min_position` to a read to see the write there.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    tags(
        (name = "workspace", description = "The caller's workspace"),
        (name = "api-keys", description = "API keys of the caller's environment"),
        (name = "events", description = "The workspace's event log, for audits and replays"),
        (name = "courses", description = "Course import and the catalogue"),
        (name = "registrations", description = "Learners on courses: launches, progress, the runtime log"),
        (name = "webhooks", description = "Signed webhooks from the event log: endpoints, the public event catalogue, \
            deliveries and their attempts, tests, redeliveries, replays. Every payload is \
            `{id, type, api_version, created_at, workspace_id, environment, data}`; `id` is stable per event and \
            endpoint, so de-duplicate by it. The `AllureConnect-Signature` header is `t=<unix>,v1=<hex>` \
            (one `v1` per valid secret during a rotation), each an HMAC-SHA256 keyed by the secret over `<t>.<body>`."),
        (name = "lrs", description = "LRS credentials, launch tokens and statement forwarding"),
        (name = "xapi", description = "The workspace's xAPI LRS (1.0.x and 2.0): HTTP Basic with an LRS credential, or Bearer with an API key"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ac_live_… or ac_test_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "lrs_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "an LRS credential (lrs_…) or a launch token (launch_…) and its secret",
                    ))
                    .build(),
            ),
        );
    }
}
