//! DNS SRV discovery of client endpoints, as etcdctl's `--discovery-srv` does it (Go's
//! `client/pkg/srv.GetClient`): `_etcd-client-ssl._tcp.<domain>` records are https endpoints,
//! `_etcd-client._tcp.<domain>` ones http; with a service name `<name>`, the services are
//! `_etcd-client-ssl-<name>` and `_etcd-client-<name>`. Either lookup may fail (a domain
//! usually has one kind only); both failing is an error.
//!
//! The resolver is hickory's, configured from the system (`/etc/resolv.conf`).

use hickory_resolver::TokioResolver;

/// The SRV service names for a scheme, as Go's `srv.GetSRVService`.
fn service(scheme: &str, service_name: &str) -> String {
    let mut service = String::from("etcd-client");
    if scheme == "https" {
        service.push_str("-ssl");
    }
    if !service_name.is_empty() {
        service.push('-');
        service.push_str(service_name);
    }
    service
}

/// The query name of a service on a domain, fully qualified.
fn query_name(service: &str, domain: &str) -> String {
    let domain = domain.trim_end_matches('.');
    format!("_{service}._tcp.{domain}.")
}

/// The endpoints the records of `domain` name: https ones first, then http, each kind in the
/// records' priority order (lower first), heavier weights first among equals.
/// Each query waits at most `timeout` for an answer (the `--dial-timeout`), twice.
pub(crate) async fn client_endpoints(
    domain: &str,
    service_name: &str,
    timeout: std::time::Duration,
) -> Result<Vec<String>, String> {
    let mut builder = TokioResolver::builder_tokio()
        .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?;
    builder.options_mut().timeout = timeout;
    builder.options_mut().attempts = 2;
    let resolver = builder.build();
    let names = ["https", "http"].map(|scheme| query_name(&service(scheme, service_name), domain));
    // Both at once: a domain usually has one kind, and the other's lookup must fail first.
    let (https, http) = tokio::join!(
        resolver.srv_lookup(names[0].as_str()),
        resolver.srv_lookup(names[1].as_str())
    );
    let mut endpoints = Vec::new();
    let mut errors = Vec::new();
    for ((scheme, name), found) in ["https", "http"].iter().zip(&names).zip([https, http]) {
        match found {
            Ok(lookup) => {
                let mut records: Vec<_> = lookup.iter().cloned().collect();
                records.sort_by(|a, b| {
                    a.priority()
                        .cmp(&b.priority())
                        .then(b.weight().cmp(&a.weight()))
                });
                for record in records {
                    let target = record.target().to_utf8();
                    let host = target.trim_end_matches('.');
                    let host = if host.contains(':') {
                        format!("[{host}]")
                    } else {
                        host.to_string()
                    };
                    endpoints.push(format!("{scheme}://{host}:{}", record.port()));
                }
            }
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    if errors.len() == 2 {
        return Err(format!("dns lookup errors: {}", errors.join(" and ")));
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_etcd() {
        assert_eq!(
            query_name(&service("https", ""), "example.com"),
            "_etcd-client-ssl._tcp.example.com."
        );
        assert_eq!(
            query_name(&service("http", ""), "example.com."),
            "_etcd-client._tcp.example.com."
        );
        assert_eq!(
            query_name(&service("https", "prod"), "example.com"),
            "_etcd-client-ssl-prod._tcp.example.com."
        );
        assert_eq!(service("http", "prod"), "etcd-client-prod");
    }
}
