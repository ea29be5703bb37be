//! Outbound safety: which URLs a webhook may have, and the DNS resolver that
//! refuses private addresses at connection time.
//!
//! The check runs when an endpoint is created or its URL changes, and again
//! on every delivery: the client resolves names through [`PublicResolver`],
//! so it connects only to the addresses it checked (a name that turned
//! private since creation, or rebinds between check and connect, is
//! refused). IP literals skip DNS and are checked by [`check`] before each
//! send.

use std::net::{IpAddr, SocketAddr};

use domain::webhook::target::is_public;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a URL may not be a webhook target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("invalid url: {0}")]
    Invalid(String),
    #[error(
        "{host} resolves to {ip}, a private, loopback or link-local address; webhooks reach only public addresses"
    )]
    Private { host: String, ip: IpAddr },
    #[error("{0} does not resolve to any address")]
    Unresolvable(String),
}

/// Parses a webhook URL: http or https, a host, no credentials, no fragment.
pub fn parse(raw: &str) -> Result<Url, TargetError> {
    let url = Url::parse(raw.trim()).map_err(|e| TargetError::Invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Invalid(
            "the scheme must be http or https".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::Invalid("the url has no host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Invalid(
            "credentials in the url are not accepted; check the signature instead".into(),
        ));
    }
    if url.fragment().is_some() {
        return Err(TargetError::Invalid("the url has a fragment".into()));
    }
    Ok(url)
}

/// The IP literal of a URL's host, if it is one.
fn literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Checks that `url` reaches only public addresses (unless private targets
/// are allowed): an IP literal directly, a name through DNS.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), TargetError> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    if let Some(ip) = literal(url) {
        return if is_public(ip) {
            Ok(())
        } else {
            Err(TargetError::Private { host, ip })
        };
    }
    resolve_public(&host).await.map(|_| ())
}

/// Resolves `host`; every address must be public.
async fn resolve_public(host: &str) -> Result<Vec<SocketAddr>, TargetError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| TargetError::Unresolvable(host.to_owned()))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolvable(host.to_owned()));
    }
    if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(TargetError::Private {
            host: host.to_owned(),
            ip: bad.ip(),
        });
    }
    Ok(addrs)
}

/// A resolver for the webhook client that hands out public addresses only.
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_public(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        for raw in [
            "http://127.0.0.1:9/hook",
            "http://10.0.0.8/hook",
            "http://[::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.0.1]/",
            "http://localhost:8080/hook",
        ] {
            let url = parse(raw).unwrap();
            let refused = check(&url, false).await.unwrap_err();
            assert!(
                matches!(refused, TargetError::Private { .. }),
                "{raw}: {refused}"
            );
            assert_eq!(check(&url, true).await, Ok(()), "{raw}");
        }
        assert_eq!(
            check(&parse("https://93.184.216.34/").unwrap(), false).await,
            Ok(())
        );
    }

    #[test]
    fn malformed_urls_are_refused() {
        for raw in [
            "ftp://example.com/",
            "not a url",
            "https://user:pass@example.com/",
            "https://example.com/#frag",
            "file:///etc/passwd",
        ] {
            assert!(matches!(parse(raw), Err(TargetError::Invalid(_))), "{raw}");
        }
        assert!(parse("https://example.com/hook?x=1").is_ok());
    }
}
