//! Values written by etcdgw read back the same through etcdctl (gRPC), and the other way round.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use etcdgw::GetOptions;

use etcdgw_test_support::Etcd;

#[tokio::test]
async fn what_etcdgw_writes_etcdctl_reads() {
    let etcd = Etcd::start().await;
    let client = etcd.client().await;
    let binary: Vec<u8> = vec![0, 1, 2, 0xfe, 0xff, b'\n'];
    client.put("io/text", "héllo wörld", None).await.unwrap();
    client.put("io/bin", binary.clone(), None).await.unwrap();

    let out = etcd.etcdctl(&["get", "io/text", "--print-value-only"]);
    assert_eq!(String::from_utf8(out).unwrap(), "héllo wörld\n");
    // -w json gives base64, so binary values compare byte for byte.
    let out = etcd.etcdctl(&["get", "io/bin", "-w", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let value = STANDARD
        .decode(json["kvs"][0]["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(value, binary);
    let key = STANDARD
        .decode(json["kvs"][0]["key"].as_str().unwrap())
        .unwrap();
    assert_eq!(key, b"io/bin");
}

#[tokio::test]
async fn what_etcdctl_writes_etcdgw_reads() {
    let etcd = Etcd::start().await;
    etcd.etcdctl(&["put", "ctl/one", "value with spaces"]);
    etcd.etcdctl(&["put", "ctl/两", "unicode ✓"]);
    let out = etcd.etcdctl_raw(&["put", "ctl/stdin"], Some(b"from stdin"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let client = etcd.client().await;
    let resp = client
        .get("ctl/", Some(GetOptions::new().with_prefix()))
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = resp
        .kvs()
        .iter()
        .map(|kv| (kv.key_str().unwrap().into(), kv.value_str().unwrap().into()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("ctl/one".to_string(), "value with spaces".to_string()),
            ("ctl/stdin".to_string(), "from stdin".to_string()),
            ("ctl/两".to_string(), "unicode ✓".to_string()),
        ]
    );
}
