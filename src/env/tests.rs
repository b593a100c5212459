use super::*;

fn setting_error(result: Result<EnvConfig>) -> (String, String) {
    match result {
        Err(Error::InvalidSetting { name, reason }) => (name.into(), reason.into()),
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn parses_go_durations() {
    assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
    assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
    assert_eq!(parse_duration("10µs").unwrap(), Duration::from_micros(10));
    assert_eq!(parse_duration("+3ns").unwrap(), Duration::from_nanos(3));
    for bad in [
        "",
        "5",
        "s",
        "5x",
        "-1s",
        "1..5s",
        ".",
        "99999999999999999999999999999999999999h",
    ] {
        assert!(
            matches!(parse_duration(bad), Err(Error::InvalidArgument { .. })),
            "{bad}"
        );
    }
}

#[test]
fn nothing_set_is_etcdctls_defaults() {
    let config = EnvConfig::from_vars(Vec::<(String, String)>::new()).unwrap();
    assert_eq!(config.endpoints(), ["127.0.0.1:2379"]);
    assert_eq!(config.dial_timeout(), Duration::from_secs(2));
    assert_eq!(config.command_timeout(), Duration::from_secs(5));
    assert_eq!(config.user(), None);
    assert!(!config.has_password());
    assert!(config.insecure_transport() && !config.insecure_skip_tls_verify());
    assert_eq!(
        (config.keepalive_time(), config.keepalive_timeout()),
        (None, None)
    );
    assert_eq!(config.max_recv_bytes(), 0);
    assert!(config.connect_options().is_ok());
}

#[test]
fn every_variable_is_read() {
    let config = EnvConfig::from_vars([
        ("ETCDCTL_ENDPOINTS", " a:1 , http://b:2,, "),
        ("ETCDCTL_USER", "alice"),
        ("ETCDCTL_PASSWORD", "pw:with:colons"),
        ("ETCDCTL_CACERT", "/ca.pem"),
        ("ETCDCTL_CERT", "/c.pem"),
        ("ETCDCTL_KEY", "/k.pem"),
        ("ETCDCTL_INSECURE_TRANSPORT", "false"),
        ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "1"),
        ("ETCDCTL_DIAL_TIMEOUT", "750ms"),
        ("ETCDCTL_COMMAND_TIMEOUT", "1m"),
        ("ETCDCTL_KEEPALIVE_TIME", "3s"),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "4s"),
        ("ETCDCTL_MAX_RECV_BYTES", "1048576"),
        ("ETCDCTL_API", "3"),
        ("HOME", "/root"),
    ])
    .unwrap();
    assert_eq!(config.endpoints(), ["a:1", "http://b:2"]);
    assert_eq!(config.user(), Some("alice"));
    assert!(config.has_password());
    assert_eq!(config.cacert(), Some(Path::new("/ca.pem")));
    assert_eq!(config.cert(), Some(Path::new("/c.pem")));
    assert_eq!(config.key(), Some(Path::new("/k.pem")));
    assert!(!config.insecure_transport());
    assert!(config.insecure_skip_tls_verify());
    assert_eq!(config.dial_timeout(), Duration::from_millis(750));
    assert_eq!(config.command_timeout(), Duration::from_secs(60));
    assert_eq!(config.keepalive_time(), Some(Duration::from_secs(3)));
    assert_eq!(config.keepalive_timeout(), Some(Duration::from_secs(4)));
    assert_eq!(config.max_recv_bytes(), 1 << 20);
}

#[test]
fn etcdgw_names_win_and_empty_values_are_unset() {
    let config = EnvConfig::from_vars([
        ("ETCDCTL_ENDPOINTS", "theirs:1"),
        ("ETCDGW_ENDPOINTS", "ours:1"),
        ("ETCDCTL_DIAL_TIMEOUT", ""),
        ("ETCDGW_COMMAND_TIMEOUT", ""),
        ("ETCDCTL_COMMAND_TIMEOUT", "9s"),
    ])
    .unwrap();
    assert_eq!(config.endpoints(), ["ours:1"]);
    assert_eq!(config.dial_timeout(), Duration::from_secs(2));
    assert_eq!(config.command_timeout(), Duration::from_secs(9));
    let (name, _) = setting_error(EnvConfig::from_vars([
        ("ETCDCTL_DIAL_TIMEOUT", "1s"),
        ("ETCDGW_DIAL_TIMEOUT", "soon"),
    ]));
    assert_eq!(name, "ETCDGW_DIAL_TIMEOUT");
}

#[test]
fn bad_values_name_their_variable() {
    for (name, value, says) in [
        ("ETCDCTL_DIAL_TIMEOUT", "5", "invalid duration \"5\""),
        ("ETCDCTL_COMMAND_TIMEOUT", "-1s", "invalid duration"),
        ("ETCDCTL_KEEPALIVE_TIME", "x", "invalid duration"),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "1y", "invalid duration"),
        (
            "ETCDCTL_INSECURE_TRANSPORT",
            "yes",
            "expected true or false",
        ),
        (
            "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
            "2",
            "expected true or false",
        ),
        ("ETCDCTL_MAX_RECV_BYTES", "-1", "a number of bytes"),
        ("ETCDCTL_ENDPOINTS", " , ", "names no endpoint"),
        ("ETCDCTL_DISCOVERY_SRV", "example.com", "DNS discovery"),
        ("ETCDGW_DISCOVERY_SRV_NAME", "x", "DNS discovery"),
    ] {
        let (named, reason) = setting_error(EnvConfig::from_vars([(name, value)]));
        assert_eq!(named, name);
        assert!(reason.contains(says), "{name}: {reason}");
    }
}

#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_refused_except_for_paths() {
    use std::os::unix::ffi::OsStrExt;
    let bad = OsStr::from_bytes(b"\xff5s");
    let (name, reason) = setting_error(EnvConfig::from_vars([(
        OsStr::new("ETCDCTL_COMMAND_TIMEOUT"),
        bad,
    )]));
    assert_eq!(
        (name.as_str(), reason.as_str()),
        ("ETCDCTL_COMMAND_TIMEOUT", "is not UTF-8")
    );
    let path = EnvConfig::from_vars([(OsStr::new("ETCDCTL_CACERT"), OsStr::from_bytes(b"/\xff"))])
        .unwrap();
    assert_eq!(path.cacert().unwrap().as_os_str().as_bytes(), b"/\xff");
}

#[test]
fn users_and_passwords_pair_as_in_etcdctl_and_stay_hidden() {
    let split = EnvConfig::from_vars([("ETCDCTL_USER", "root:s3cret:x")]).unwrap();
    assert_eq!(split.user(), Some("root"));
    assert_eq!(
        split.credentials().unwrap(),
        Some(("root".into(), "s3cret:x".into()))
    );
    let separate =
        EnvConfig::from_vars([("ETCDCTL_USER", "we:ird"), ("ETCDCTL_PASSWORD", "s3cret")]).unwrap();
    assert_eq!(separate.user(), Some("we:ird"));
    assert_eq!(
        separate.credentials().unwrap(),
        Some(("we:ird".into(), "s3cret".into()))
    );
    for config in [split, separate] {
        let shown = format!("{config:?} {:?}", config.connect_options().unwrap());
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    let err = EnvConfig::from_vars([("ETCDCTL_USER", "alice")])
        .unwrap()
        .connect_options()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, reason } if &**name == "ETCDCTL_USER" && reason.contains("--password")),
        "{err}"
    );
    // A password in an invalid variable is never quoted.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let err = EnvConfig::from_vars([(
            OsStr::new("ETCDCTL_PASSWORD"),
            OsStr::from_bytes(b"s3cret\xff"),
        )])
        .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("s3cret"));
    }
}

#[test]
fn setters_are_named_as_flags_in_errors() {
    let err = EnvConfig::new()
        .with_user("bob")
        .connect_options()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, .. } if &**name == "--user"),
        "{err}"
    );
    let err = EnvConfig::new()
        .with_flag_prefix("dest-")
        .with_cacert("/nonexistent/ca.pem")
        .connect_options()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, reason } if &**name == "--dest-cacert" && reason.contains("/nonexistent/ca.pem")),
        "{err}"
    );
}

#[cfg(feature = "__tls")]
#[test]
fn tls_files_are_read_and_checked_in_pairs() {
    let dir = std::env::temp_dir().join(format!("etcdgw-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("some.pem");
    std::fs::write(&file, b"-----BEGIN CERTIFICATE-----\n").unwrap();
    let file = file.to_str().unwrap();
    let (name, reason) = setting_error(
        EnvConfig::from_vars([("ETCDCTL_CERT", file)])
            .unwrap()
            .connect_options()
            .map(|_| EnvConfig::new()),
    );
    assert_eq!(name, "ETCDCTL_CERT");
    assert!(reason.contains("needs its key"), "{reason}");
    let (name, reason) = setting_error(
        EnvConfig::from_vars([("ETCDCTL_CACERT", "/nonexistent/ca.pem")])
            .unwrap()
            .connect_options()
            .map(|_| EnvConfig::new()),
    );
    assert_eq!(name, "ETCDCTL_CACERT");
    assert!(
        reason.starts_with("cannot read /nonexistent/ca.pem"),
        "{reason}"
    );
    let both = EnvConfig::from_vars([
        ("ETCDCTL_CACERT", file),
        ("ETCDCTL_CERT", file),
        ("ETCDCTL_KEY", file),
    ])
    .unwrap()
    .connect_options();
    assert!(both.is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn timeouts_and_keepalives_reach_the_options() {
    let options = EnvConfig::from_vars([
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "9s"),
        ("ETCDCTL_COMMAND_TIMEOUT", "7s"),
    ])
    .unwrap()
    .connect_options()
    .unwrap();
    let shown = format!("{options:?}");
    assert!(shown.contains("timeout: 7s"), "{shown}");
    assert!(shown.contains("connect_timeout: 2s"), "{shown}");
    assert!(shown.contains("keep_alive: Some((2s, 9s))"), "{shown}");
}

#[test]
fn headers_come_from_etcdgw_headers_and_their_values_are_never_shown() {
    let config = EnvConfig::from_vars([(
        "ETCDGW_HEADERS",
        "X-Api-Key: s3cret-key\n\n  X-Tenant : blue  \n",
    )])
    .unwrap();
    assert_eq!(
        config.header_names().collect::<Vec<_>>(),
        ["X-Api-Key", "X-Tenant"]
    );
    let shown = format!("{config:?} {:?}", config.connect_options().unwrap());
    assert!(shown.contains("X-Api-Key"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");

    let replaced = config.with_headers([("X-Other", "1")]);
    assert_eq!(replaced.header_names().collect::<Vec<_>>(), ["X-Other"]);

    // A malformed line is named by its number, its text (a secret, maybe) never shown.
    let (name, reason) = setting_error(EnvConfig::from_vars([(
        "ETCDGW_HEADERS",
        "X-Ok: 1\nBearer s3cret",
    )]));
    assert_eq!(name, "ETCDGW_HEADERS");
    assert!(reason.contains("header number 2"), "{reason}");
    assert!(!reason.contains("s3cret"), "{reason}");
}
