//! Keys and values: `get` with every flag, `put` and `del`, `txn` from stdin.

use etcdgw::PutOptions;
use etcdgw_test_support::Etcd;

use crate::{
    assert_same, assert_same_with, assert_same_write, error_line, etcdgw, gw, is_34, seed, text,
};

#[tokio::test]
async fn get_prints_what_etcdctl_prints_for_every_flag() {
    let etcd = Etcd::start().await;
    let first_rev = seed(&etcd).await.to_string();
    let reads: Vec<Vec<&str>> = vec![
        vec!["get", "a"],
        vec!["get", "missing"],
        vec!["get", "k/", "--prefix"],
        vec!["get", "", "--prefix"],
        vec!["get", "b", "--from-key"],
        vec!["get", "k/", "--prefix", "--limit", "2"],
        vec!["get", "a", "--rev", &first_rev],
        vec!["get", "k/", "--prefix", "--keys-only"],
        vec!["get", "k/1", "k/3"],
        vec![
            "get",
            "k/",
            "--prefix",
            "--order",
            "DESCEND",
            "--sort-by",
            "VALUE",
        ],
        vec![
            "get",
            "k/",
            "--prefix",
            "--sort-by",
            "MODIFY",
            "--order",
            "ASCEND",
        ],
        vec!["get", "bin"],
        vec!["get", "bin", "--hex"],
        vec!["get", "k/1", "--consistency", "s"],
    ];
    for read in &reads {
        for format in ["simple", "json", "fields"] {
            let mut args = read.clone();
            args.extend(["-w", format]);
            assert_same(&etcd, &args);
        }
    }
    // A missing key prints nothing and succeeds.
    let missing = gw(&etcd, &["get", "missing"]);
    assert!(missing.status.success() && missing.stdout.is_empty());

    assert_same(&etcd, &["get", "k/", "--prefix", "--print-value-only"]);
    assert_same(&etcd, &["get", "a", "--print-value-only", "-w", "json"]);

    // --count-only (etcdctl 3.5; 3.4 has no such flag): the count in the fields format.
    let count = gw(
        &etcd,
        &["get", "k/", "--prefix", "--count-only", "-w", "fields"],
    );
    assert!(count.status.success(), "{}", text(&count.stderr));
    let fields = text(&count.stdout);
    assert!(
        fields.ends_with("\"More\" : false\n\"Count\" : 3\n"),
        "{fields}"
    );
    assert!(!fields.contains("\"Key\""), "{fields}");
    if is_34() {
        let full = text(&etcd.etcdctl(&["get", "k/", "--prefix", "-w", "fields"]));
        let header: Vec<&str> = full.lines().take(4).collect();
        assert_eq!(fields.lines().take(4).collect::<Vec<_>>(), header);
    } else {
        assert_same(
            &etcd,
            &["get", "k/", "--prefix", "--count-only", "-w", "fields"],
        );
        assert_same(
            &etcd,
            &["get", "k/", "--prefix", "--count-only", "-w", "json"],
        );
    }
}

#[tokio::test]
async fn put_and_del_print_what_etcdctl_prints() {
    let etcd = Etcd::start().await;
    for format in ["simple", "json", "fields"] {
        let w = ["-w", format];
        let with = |args: &[&'static str]| -> Vec<&'static str> {
            let mut v = args.to_vec();
            v.extend(w);
            v
        };
        assert_same_write(&etcd, &with(&["put", "{}k", "v1"]), None);
        assert_same_write(&etcd, &with(&["put", "{}k", "v2", "--prev-kv"]), None);
        assert_same_write(
            &etcd,
            &with(&["put", "{}k", "--ignore-value", "--prev-kv"]),
            None,
        );
        // The value from stdin.
        assert_same_write(
            &etcd,
            &with(&["put", "{}k", "--prev-kv"]),
            Some("from stdin"),
        );
        assert_same_write(&etcd, &with(&["del", "{}k", "--prev-kv"]), None);
        // Deleting nothing changes nothing: compared as a read.
        assert_same(&etcd, &with(&["del", "nothing"]));
        assert_same(&etcd, &with(&["del", "nothing", "--prefix", "--prev-kv"]));
        assert_same_write(&etcd, &with(&["put", "{}1", "a"]), None);
        assert_same_write(&etcd, &with(&["put", "{}2", "b"]), None);
        assert_same_write(&etcd, &with(&["del", "{}", "--prefix", "--prev-kv"]), None);
        assert_same_write(&etcd, &with(&["put", "{}1", "a"]), None);
        assert_same_write(&etcd, &with(&["del", "{}", "--prefix"]), None);
    }
    // What was written reads back the same through both.
    assert_same(&etcd, &["get", "", "--prefix", "-w", "json"]);
}

const READ_ONLY_TXN: &str = "value(\"a\") = \"not 1\"\nmod(\"a\") > \"0\"\n\nput a never\n\nget a\nget k/ --prefix --keys-only\nget k/1 k/3\nget missing\n\n";

#[tokio::test]
async fn txn_from_stdin_reads_etcdctl_syntax_and_prints_what_etcdctl_prints() {
    let etcd = Etcd::start().await;
    seed(&etcd).await;
    // A transaction that changes nothing, compared as it is.
    for format in ["simple", "json", "fields"] {
        assert_same_with(
            &etcd,
            &["txn", "-w", format],
            Some(READ_ONLY_TXN.as_bytes()),
        );
    }
    // Interactive mode prompts on stdout.
    assert_same_with(&etcd, &["txn", "-i"], Some(READ_ONLY_TXN.as_bytes()));

    // Transactions that write, on the parallel keys.
    for format in ["simple", "json", "fields"] {
        let txn = "version(\"{}t\") = \"0\"\n\nput {}t v1\nput {}u \"two words\"\nget {}t\n\nput {}t other\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
        let txn =
            "version(\"{}t\") = \"0\"\n\nput {}t v1\n\nput {}t v2 --prev-kv\ndel {}u --prev-kv\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
        let txn = "create(\"{}t\") > \"0\"\nvalue(\"{}t\") != \"v1\"\n\ndel {}t --prev-kv\n\n\n";
        assert_same_write(&etcd, &["txn", "-w", format], Some(txn));
    }

    // Input errors, with etcdctl's messages and codes.
    for bad in [
        "value(\"a\") = \"1\"\n\nput a 2\n", // ends before the failure section: EOF
        "\nbogus a\n\n\n",                   // an unknown operation
        "\nput a\n\n\n",                     // a put without a value: bad args
        "\nget\n\n\n",                       // a get without a key
        "\nget a --bogus\n\n\n",             // an unknown flag
    ] {
        assert_same_with(&etcd, &["txn"], Some(bad.as_bytes()));
    }
    // etcdctl panics on these two; etcdgw reports them as invalid input.
    for bad in ["value(\"a\") == \"1\"\n\n\n\n", "value(a) = \"1\"\n\n\n\n"] {
        let out = etcdgw(&etcd.endpoint(), &["txn"], Some(bad.as_bytes()));
        assert_eq!(out.status.code(), Some(3), "{bad:?}");
        assert!(
            error_line(&out)
                .unwrap()
                .starts_with("Error: malformed comparison: "),
            "{}",
            text(&out.stderr)
        );
    }
    // Lease compares take the ID in hex, as every lease flag does.
    let client = etcd.client().await;
    let lease = client.lease_grant(60, None).await.unwrap().id();
    client
        .put("leased", "v", Some(PutOptions::new().with_lease(lease)))
        .await
        .unwrap();
    let txn = format!("lease(\"leased\") = \"{lease:x}\"\n\nget leased --print-value-only\n\n\n");
    let out = etcdgw(&etcd.endpoint(), &["txn"], Some(txn.as_bytes()));
    assert_eq!(
        text(&out.stdout),
        "SUCCESS\n\nleased\nv\n",
        "{}",
        text(&out.stderr)
    );
}
