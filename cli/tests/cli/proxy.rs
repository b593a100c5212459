//! Through nginx left at its defaults (it buffers streamed answers) under a path prefix that
//! wants an API key: `etcdgw --endpoints http://proxy/etcd --header 'X-Api-Key: ...'` puts,
//! gets and watches, the header also from `ETCDGW_HEADERS`, and never prints its value.

use std::process::Stdio;

use etcdgw_test_support::reverse_proxy::{Kind, ReverseProxy, API_KEY};
use etcdgw_test_support::Etcd;

use crate::{error_line, etcdgw, lines_of, next_lines, text, Killed, Tool};

#[tokio::test]
async fn watch_put_and_get_through_nginx_at_its_defaults_with_an_api_key() {
    let etcd = Etcd::start().await;
    let proxy = ReverseProxy::start(Kind::NginxPrefixKey, etcd.member.client_port).await;
    let endpoint = proxy.endpoint();
    let header = format!("X-Api-Key: {API_KEY}");

    // The watch starts at the next revision, so that it sees every write below however long
    // finding out that nginx buffers takes.
    let rev = {
        let out = etcdgw(&endpoint, &["--header", &header, "put", "start", "0"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let status = etcdgw(
            &endpoint,
            &["--header", &header, "get", "start", "-w", "json"],
            None,
        );
        let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        json["header"]["revision"].as_i64().unwrap() + 1
    };
    let mut watch = Tool::Etcdgw.command(&endpoint);
    let rev_arg = rev.to_string();
    watch
        .args([
            "--header", &header, "watch", "w/", "--prefix", "--rev", &rev_arg,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = watch.spawn().expect("etcdgw watch");
    let lines = lines_of(child.stdout.take().expect("stdout"));
    let _watch = Killed(child);

    // The header from the environment instead of the flag.
    for (key, value) in [("w/1", "a"), ("w/2", "b")] {
        let out = Tool::Etcdgw
            .command(&endpoint)
            .env("ETCDGW_HEADERS", format!("X-Trace: 1\n{header}\n"))
            .args(["put", key, value])
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "OK\n", "{}", text(&out.stderr));
    }
    let got = next_lines(&lines, 6, "etcdgw watch through nginx");
    assert_eq!(got, ["PUT", "w/1", "a", "PUT", "w/2", "b"]);

    // Without the key, nginx's own 401, said as such; with --debug, the header's name only.
    let out = etcdgw(&endpoint, &["get", "w/1"], None);
    assert!(!out.status.success());
    let error = error_line(&out).unwrap_or_default();
    assert!(error.contains("HTTP 401"), "{}", text(&out.stderr));
    let out = etcdgw(
        &endpoint,
        &["--header", &header, "--debug", "get", "w/1"],
        None,
    );
    assert_eq!(text(&out.stdout), "w/1\na\n");
    assert!(text(&out.stderr).contains("ETCDGW_HEADER=X-Api-Key: <hidden>"));
    assert!(
        !text(&out.stderr).contains(API_KEY),
        "{}",
        text(&out.stderr)
    );
    // A malformed header is refused by position, without its value.
    let out = etcdgw(
        &endpoint,
        &["--header", "no-colon-s3cret", "get", "w/1"],
        None,
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(
        !text(&out.stderr).contains("s3cret"),
        "{}",
        text(&out.stderr)
    );
}
