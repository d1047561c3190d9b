//! Tests of `config`.
use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const FILE: &str = r#"
listen = "127.0.0.1:4000"
[engineio]
ping_interval = "10s"
[redis]
url = "redis://:hunter2hunter2@127.0.0.1:6379"
channel_prefix = "custom"
startup = "fail"
[[sites]]
name = "app"
api_keys = ["0123456789abcdef0123"]
[sites.auth]
mode = "jwt"
secret = "a-very-long-development-secret-0123456789"
"#;

#[test]
fn file_then_env_then_flags() {
    let c = load(Some(FILE), &env(&[]), &Overrides::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:4000");
    assert_eq!(c.engineio.ping_interval, Dur(Duration::from_secs(10)));
    assert_eq!(c.engineio.ping_timeout, Dur(Duration::from_secs(20)));
    assert_eq!(c.sites[0].broadcast_room, "allusers");
    assert_eq!(c.sites[0].namespace, "/");
    assert_eq!(c.redis.channel_prefix, "custom");
    assert_eq!(c.redis.startup, RedisStartup::Fail);
    assert_eq!(c.redis.request_timeout, Dur(Duration::from_secs(5)));

    let e = env(&[
        ("HERALD_LISTEN", "127.0.0.1:5000"),
        ("HERALD_ENGINEIO_PING_INTERVAL", "3s"),
    ]);
    let c = load(Some(FILE), &e, &Overrides::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
    assert_eq!(c.engineio.ping_interval, Dur(Duration::from_secs(3)));

    let flags = Overrides {
        listen: Some("127.0.0.1:6000".into()),
        ..Overrides::default()
    };
    let c = load(Some(FILE), &e, &flags).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:6000");
}

#[test]
fn unknown_keys_are_named() {
    let e = load(Some("listn = \"x\""), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("listn"), "{e}");
    let e = load(
        Some("[engineio]\nping_intervall = \"1s\""),
        &env(&[]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.0.contains("ping_intervall"), "{e}");
    let e = load(None, &env(&[("HERALD_LISTN", "x")]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("HERALD_LISTN"), "{e}");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
    assert!(parse_duration("fast").is_err());
    assert!(parse_duration("3 weeks").is_err());
    let e = load(
        Some("[engineio]\nping_interval = \"soon\""),
        &env(&[]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.0.contains("soon"), "{e}");
}

#[test]
fn check_config_redacts_secrets() {
    let c = load(Some(FILE), &env(&[]), &Overrides::default()).unwrap();
    let out = redacted_toml(&c);
    assert!(!out.contains("0123456789abcdef0123"), "{out}");
    assert!(!out.contains("a-very-long-development-secret"), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    assert!(out.contains("<redacted>"));
    // and the redacted output is itself a valid config file
    assert!(out.parse::<toml::Table>().is_ok());
}

#[test]
fn validation_errors_say_what_to_do() {
    let bad = "[[sites]]\nname = \"a\"\napi_keys = [\"short\"]\n[sites.auth]\nmode = \"none\"\n";
    let e = load(Some(bad), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("at least 16"), "{e}");
    let e = load(
        Some("path = \"socket.io\""),
        &env(&[]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(e.0.contains("start and end with '/'"), "{e}");
}

/// FILE with `keys` in its site and `tables` after it.
fn site_with(keys: &str, tables: &str) -> String {
    format!(
        "{}{tables}",
        FILE.replace("[sites.auth]", &format!("{keys}\n[sites.auth]"))
    )
}

#[test]
fn client_rooms_are_off_by_default_and_limits_have_defaults() {
    let c = load(Some(FILE), &env(&[]), &Overrides::default()).unwrap();
    assert!(!c.sites[0].client_rooms);
    assert_eq!(c.sites[0].client_room_limits, ClientRoomLimits::default());
    assert_eq!(c.sites[0].client_room_limits.max_rooms, 20);
    let with = site_with(
        "client_rooms = true",
        "[sites.client_room_limits]\nmax_rooms = 3\nops_per_second = 2\n",
    );
    let c = load(Some(&with), &env(&[]), &Overrides::default()).unwrap();
    let l = &c.sites[0].client_room_limits;
    assert!(c.sites[0].client_rooms);
    assert_eq!((l.max_rooms, l.ops_per_second, l.burst), (3, 2, 20));
    // check-config prints the keys back, and its output loads again.
    let printed = redacted_toml(&c);
    assert!(printed.contains("client_rooms = true"), "{printed}");
    let printed = printed.replace("\"<redacted>\"", "\"0123456789abcdef0123456789abcdef\"");
    let again = load(Some(&printed), &env(&[]), &Overrides::default()).unwrap();
    assert_eq!(again.sites[0].client_room_limits.max_rooms, 3);
}

#[test]
fn client_room_config_errors_name_the_key() {
    let unknown = site_with("", "[sites.client_room_limits]\nmax_room = 3\n");
    let e = load(Some(&unknown), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("max_room"), "{e}");
    let zero = site_with("", "[sites.client_room_limits]\nburst = 0\n");
    let e = load(Some(&zero), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(
        e.0.contains("client_room_limits.burst must be at least 1"),
        "{e}"
    );
    let clash = site_with("client_rooms = true\nbroadcast_room = \"room:all\"", "");
    let e = load(Some(&clash), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("prefix of client rooms"), "{e}");
    let clash = site_with("client_rooms = true\nuser_room_prefix = \"room:u:\"", "");
    let e = load(Some(&clash), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("user_room_prefix"), "{e}");
    // Without client rooms the same names are fine.
    let ok = site_with("broadcast_room = \"room:all\"", "");
    assert!(load(Some(&ok), &env(&[]), &Overrides::default()).is_ok());
}

#[test]
fn reliable_emitters_need_reliable_delivery_and_user_rooms() {
    let c = load(Some(FILE), &env(&[]), &Overrides::default()).unwrap();
    assert!(!c.sites[0].reliable.emitters, "off by default");
    let off = site_with(
        "user_room_prefix = \"user:\"",
        "[sites.reliable]\nemitters = true\n",
    );
    let e = load(Some(&off), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(
        e.0.contains("reliable.emitters needs reliable.enabled"),
        "{e}"
    );
    let no_prefix = site_with("", "[sites.reliable]\nenabled = true\nemitters = true\n");
    let e = load(Some(&no_prefix), &env(&[]), &Overrides::default()).unwrap_err();
    assert!(e.0.contains("user_room_prefix"), "{e}");
    let ok = site_with(
        "user_room_prefix = \"user:\"",
        "[sites.reliable]\nenabled = true\nemitters = true\n",
    );
    let c = load(Some(&ok), &env(&[]), &Overrides::default()).unwrap();
    assert!(c.sites[0].reliable.emitters);
}
