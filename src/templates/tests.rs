use serde_json::{Value, json};

use super::{ErrorKind, Limits, Template, TemplateError};

/// The production list: templates may not set what hooks may not set.
pub(super) const RESTRICTED: &[&str] = sigil_hooks::host::RESTRICTED_CLAIMS;

pub(super) fn event() -> Value {
    json!({
        "user": {
            "id": "usr_1", "email": "ada@example.com", "email_verified": true,
            "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace",
            "picture": null, "created_at": "2026-01-15T09:30:00Z", "logins_count": 42,
            "external_id": "legacy-42",
            "user_metadata": {"department": "engineering", "address": {"city": "London"},
                              "0": "zero", "tags": [{"k": "v"}]},
            "app_metadata": {"roles": ["admin", "billing"], "plan": "enterprise"},
            "roles": ["admin", "viewer"],
            "permissions": ["read:reports"]
        },
        "organization": {"id": "org_1", "name": "globex", "display_name": "Globex Corp",
                         "metadata": {"tier": "gold"}, "roles": ["admin"]},
        "client": {"client_id": "app_1", "name": "Dashboard", "client_metadata": {"plan": "pro"}},
        "request": {"ip": "203.0.113.7", "hostname": "id.example.com", "language": "en"},
        "transaction": {"protocol": "authorization_code", "requested_scopes": ["openid"]},
        "tenant": {"id": "ten_1", "name": "acme"},
        "now": "2026-11-22T12:00:00Z"
    })
}

fn parse(t: Value) -> Template {
    Template::parse(&t, RESTRICTED, &Limits::default()).expect("template should parse")
}

fn render(t: Value) -> Value {
    Value::Object(parse(t).render(&event()))
}

fn errors_with(t: Value, limits: &Limits) -> Vec<TemplateError> {
    Template::parse(&t, RESTRICTED, limits).expect_err("template should be rejected")
}

fn errors(t: Value) -> Vec<TemplateError> {
    errors_with(t, &Limits::default())
}

/// The single error's (pointer, offset, kind).
fn one_error(t: Value) -> (String, usize, ErrorKind) {
    let errs = errors(t);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    (e.pointer.clone(), e.offset, e.kind)
}

#[test]
fn whole_expression_keeps_type() {
    let out = render(json!({
        "roles": "{{user.roles}}", "count": "{{ user.logins_count }}",
        "verified": "{{user.email_verified}}", "meta": "{{user.app_metadata}}",
        "mail": "{{user.email}}", "when": "{{now}}"
    }));
    assert_eq!(
        out,
        json!({"roles": ["admin", "viewer"], "count": 42, "verified": true,
               "meta": {"roles": ["admin", "billing"], "plan": "enterprise"},
               "mail": "ada@example.com", "when": "2026-11-22T12:00:00Z"})
    );
}

#[test]
fn interpolation_renders_text() {
    let out = render(json!({
        "full_name": "{{user.given_name}} {{user.family_name}}",
        "info": "{{user.logins_count}} logins, verified={{user.email_verified}}",
        "roles_text": "roles: {{user.roles}}", "meta_text": "{{client.client_metadata}}!"
    }));
    assert_eq!(
        out,
        json!({"full_name": "Ada Lovelace", "info": "42 logins, verified=true",
               "roles_text": "roles: [\"admin\",\"viewer\"]", "meta_text": "{\"plan\":\"pro\"}!"})
    );
}

#[test]
fn fallbacks_try_alternatives_in_order() {
    let t = json!({
        "region": "{{user.user_metadata.region || organization.metadata.region || 'eu'}}",
        "tier": "{{organization.metadata.missing || organization.metadata.tier || 'free'}}",
        "n": "{{ user.user_metadata.n || 3 }}", "f": "{{user.user_metadata.f||-1.5e2}}",
        "b": "{{ user.user_metadata.b || false }}", "nick": "{{user.nickname || user.name}}",
        "pic": "Pic: {{user.picture || \"none\"}}"
    });
    assert_eq!(
        render(t.clone()),
        json!({"region": "eu", "tier": "gold", "n": 3, "f": -150.0, "b": false,
               "nick": "Ada Lovelace", "pic": "Pic: none"})
    );
    let mut ev = event();
    ev["organization"]["metadata"]["region"] = json!("us");
    assert_eq!(parse(t.clone()).render(&ev)["region"], "us");
    ev["user"]["user_metadata"]["region"] = json!("apac");
    assert_eq!(parse(t).render(&ev)["region"], "apac");
}

#[test]
fn missing_and_null_claims_are_omitted() {
    let out = render(json!({
        "nick": "{{user.nickname}}", "pic": "{{user.picture}}",
        "dept": "{{user.user_metadata.nope}}", "greeting": "Hi {{user.nickname}}!",
        "literal_null": null, "kept": "{{user.given_name}}"
    }));
    assert_eq!(out, json!({"kept": "Ada"}));
}

#[test]
fn nested_objects_and_arrays() {
    let out = render(json!({
        "profile": {"dept": "{{user.user_metadata.department}}", "gone": "{{user.nickname}}",
                    "inner": {"tier": "{{organization.metadata.tier}}", "n": 1, "z": null}},
        "list": ["{{user.email}}", "{{user.nickname}}", "static", ["{{tenant.name}}"], 7],
        "https://example.com/roles": "{{user.roles}}",
        "constant": {"a": [1, {"b": "x"}]}
    }));
    assert_eq!(
        out,
        json!({
            "profile": {"dept": "engineering", "inner": {"tier": "gold", "n": 1, "z": null}},
            "list": ["ada@example.com", "static", ["acme"], 7],
            "https://example.com/roles": ["admin", "viewer"],
            "constant": {"a": [1, {"b": "x"}]}
        })
    );
}

#[test]
fn deep_metadata_paths_and_indexes() {
    let out = render(json!({
        "city": "{{user.user_metadata.address.city}}", "first": "{{user.roles.0}}",
        "second": "{{user.app_metadata.roles.1}}", "oob": "{{user.roles.9}}",
        "zero_key": "{{user.user_metadata.0}}", "tag": "{{user.user_metadata.tags.0.k}}",
        "leading_zero": "{{user.app_metadata.roles.01}}", "huge": "{{user.app_metadata.roles.99999999999999999999999}}"
    }));
    assert_eq!(
        out,
        json!({"city": "London", "first": "admin", "second": "billing",
               "zero_key": "zero", "tag": "v"})
    );
}

#[test]
fn absent_or_null_organization() {
    let t = json!({
        "org": "{{organization.name}}", "tier": "{{organization.metadata.tier || 'none'}}",
        "org_roles": "{{organization.roles}}", "label": "{{organization.display_name}} team"
    });
    let mut ev = event();
    ev["organization"] = Value::Null;
    assert_eq!(
        Value::Object(parse(t.clone()).render(&ev)),
        json!({"tier": "none"})
    );
    if let Some(m) = ev.as_object_mut() {
        m.remove("organization");
    }
    assert_eq!(Value::Object(parse(t).render(&ev)), json!({"tier": "none"}));
}

#[test]
fn render_tolerates_any_event() {
    let t = parse(json!({"a": "{{user.roles.0}}", "b": "x{{now}}", "c": "k"}));
    for ev in [
        json!(null),
        json!([1, 2]),
        json!("s"),
        json!({"user": 5, "now": null}),
    ] {
        assert_eq!(Value::Object(t.render(&ev)), json!({"c": "k"}));
    }
}

#[test]
fn escapes_and_literals() {
    let out = render(json!({
        "esc": "\\{{user.email}}", "esc_mixed": "\\{{ {{user.given_name}} }}",
        "single": "{{ user.user_metadata.x || 'it\\'s \"ok\" \\\\ }}' }}",
        "double": "{{ user.user_metadata.y || \"say \\\"hi\\\"\" }}",
        "stray": "a }} b", "lone_backslash": "C:\\dir {{tenant.name}}", "brace": "{x}",
        "backslash": "{{ '\\\\' }}{{user.given_name}}", "empty": "{{user.given_name}}{{ user.nickname || '' }}"
    }));
    assert_eq!(
        out,
        json!({"esc": "{{user.email}}", "esc_mixed": "{{ Ada }}",
               "single": "it's \"ok\" \\ }}", "double": "say \"hi\"", "stray": "a }} b",
               "lone_backslash": "C:\\dir acme", "brace": "{x}",
               "backslash": "\\Ada", "empty": "Ada"})
    );
}

#[test]
fn syntax_errors_carry_position() {
    let cases = [
        (json!({"a": "x {{user.email"}), 2, "unclosed"),
        (json!({"a": "{{   }}"}), 0, "empty"),
        (json!({"a": "ab{{}}"}), 2, "empty"),
        (json!({"a": "{{user.}}"}), 7, "field name"),
        (json!({"a": "{{user..email}}"}), 7, "field name"),
        (json!({"a": "{{user.roles.0x}}"}), 13, "index"),
        (json!({"a": "{{ user.x || 'eu }}"}), 13, "unterminated"),
        (json!({"a": "{{ 'a\\n' }}"}), 5, "escape"),
        (json!({"a": "{{ 'a' || user.name }}"}), 10, "literal"),
        (json!({"a": "{{ user.name || }}"}), 16, "after `||`"),
        (json!({"a": "{{ user.name | 'x' }}"}), 13, "expected `||`"),
        (json!({"a": "{{ user .name }}"}), 8, "expected `||`"),
        (json!({"a": "{{ 007 }}"}), 3, "invalid number"),
        (json!({"a": "{{ 1e999 }}"}), 3, "invalid number"),
        (json!({"a": "{{ {{user.name}} }}"}), 3, "found `{`"),
        (json!({"a": "é{{ ü }}"}), 4, "found `ü`"),
    ];
    for (t, offset, needle) in cases {
        let errs = errors(t.clone());
        assert_eq!(errs.len(), 1, "{t}: {errs:?}");
        let e = &errs[0];
        assert_eq!(
            (e.pointer.as_str(), e.offset, e.kind),
            ("/a", offset, ErrorKind::Syntax),
            "{t}"
        );
        assert!(e.message.contains(needle), "{t}: {}", e.message);
    }
}

#[test]
fn unknown_roots_and_fields() {
    assert_eq!(
        one_error(json!({"a": "{{ usr.email }}"})),
        ("/a".into(), 3, ErrorKind::UnknownRoot)
    );
    assert_eq!(
        one_error(json!({"a": "{{true.x}}"})),
        ("/a".into(), 2, ErrorKind::UnknownRoot)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.emial}}"})),
        ("/a".into(), 7, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.email.x}}"})),
        ("/a".into(), 13, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.roles.x}}"})),
        ("/a".into(), 13, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.roles.0.x}}"})),
        ("/a".into(), 15, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.roles.01}}"})),
        ("/a".into(), 13, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{now.x}}"})),
        ("/a".into(), 6, ErrorKind::UnknownField)
    );
    assert_eq!(
        one_error(json!({"a": "{{user.0}}"})),
        ("/a".into(), 7, ErrorKind::UnknownField)
    );
    let e = &errors(json!({"a": "{{organization.meta}}"}))[0];
    assert!(
        e.message.contains("known fields: id, name"),
        "{}",
        e.message
    );
    // Anything below a metadata object is the customer's own data.
    parse(
        json!({"a": "{{user.user_metadata.a.b-c._d.0.e}}", "b": "{{client.client_metadata.x}}",
                 "c": "{{organization.metadata.x.y}}", "d": "{{user.app_metadata.z}}"}),
    );
}

#[test]
fn restricted_claims_rejected_at_top_level_only() {
    let errs = errors(json!({"sub": "x", "nested": {"sub": "ok"}, "email": "{{user.email}}"}));
    let got: Vec<_> = errs
        .iter()
        .map(|e| (e.pointer.as_str(), e.offset, e.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("/email", 0, ErrorKind::RestrictedClaim),
            ("/sub", 0, ErrorKind::RestrictedClaim)
        ]
    );
    parse(json!({"https://example.com/email": "{{user.email}}", "subject": 1}));
}

/// The hooks' rule (sigil_hooks::claims): restricted names match canonically, profile claims
/// are restricted (the user profile would replace them), control characters are refused.
#[test]
fn restricted_claims_match_canonically() {
    for key in [
        "Sub",
        " sub ",
        "SUB",
        "su\u{0}b",
        "name",
        "Updated_At",
        "cnf",
    ] {
        let errs = errors(json!({key: 1}));
        assert_eq!(errs.len(), 1, "{key:?}");
        assert_eq!(errs[0].kind, ErrorKind::RestrictedClaim, "{key:?}");
    }
    assert!(
        errors(json!({"name": 1}))[0]
            .message
            .contains("user profile")
    );
}

#[test]
fn not_an_object() {
    for t in [json!([]), json!("{{user.email}}"), json!(null), json!(3)] {
        let errs = errors(t);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            (errs[0].pointer.as_str(), errs[0].offset, errs[0].kind),
            ("", 0, ErrorKind::NotAnObject)
        );
    }
}

#[test]
fn limits_are_enforced() {
    let small = Limits {
        max_bytes: 20,
        ..Limits::default()
    };
    let errs = errors_with(json!({"a": "0123456789012345"}), &small);
    assert_eq!(
        (errs.len(), errs[0].kind, errs[0].pointer.as_str()),
        (1, ErrorKind::TooLarge, "")
    );
    assert!(Template::parse(&json!({"a": "012345678901"}), &[], &small).is_ok());

    let shallow = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(Template::parse(&json!({"a": {"b": 1}, "c": [1]}), &[], &shallow).is_ok());
    let errs = errors_with(json!({"a": {"b": {}}, "c": [[1]], "d": [1]}), &shallow);
    let got: Vec<_> = errs.iter().map(|e| (e.pointer.as_str(), e.kind)).collect();
    assert_eq!(
        got,
        [("/a/b", ErrorKind::TooDeep), ("/c/0", ErrorKind::TooDeep)]
    );
    let zero = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    assert_eq!(errors_with(json!({}), &zero)[0].kind, ErrorKind::TooDeep);

    let few = Limits {
        max_expressions: 2,
        ..Limits::default()
    };
    assert!(Template::parse(&json!({"a": "{{now}}{{now}}"}), &[], &few).is_ok());
    let errs = errors_with(
        json!({"a": "{{now}}", "b": ["x", "{{now}} {{now}} {{now}}"]}),
        &few,
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].pointer.as_str(), errs[0].offset, errs[0].kind),
        ("/b/1", 8, ErrorKind::TooManyExpressions)
    );
}

#[test]
fn pointers_escape_keys() {
    let t = json!({"https://example.com/roles": ["x", "{{user.rols}}"], "a~b": "{{x}}"});
    let got: Vec<_> = errors(t)
        .into_iter()
        .map(|e| (e.pointer, e.offset, e.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("/a~0b".to_owned(), 2, ErrorKind::UnknownRoot),
            (
                "/https:~1~1example.com~1roles/1".to_owned(),
                7,
                ErrorKind::UnknownField
            )
        ]
    );
}

#[test]
fn errors_are_in_document_order_and_capped() {
    let t = json!({"b": "{{x}} {{user.y}}", "a": "{{now.z}}"});
    let got: Vec<_> = errors(t)
        .into_iter()
        .map(|e| (e.pointer, e.offset))
        .collect();
    assert_eq!(
        got,
        [
            ("/a".to_owned(), 6),
            ("/b".to_owned(), 2),
            ("/b".to_owned(), 13)
        ]
    );

    let many: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("c{i:02}"), json!("{{bad}}")))
        .collect();
    assert_eq!(errors(Value::Object(many)).len(), 20);
}

#[test]
fn error_display_and_codes() {
    let e = &errors(json!({"dept": "{{user.emial}}"}))[0];
    assert_eq!(e.to_string(), format!("/dept at 7: {}", e.message));
    let codes = [
        (ErrorKind::Syntax, "syntax"),
        (ErrorKind::UnknownRoot, "unknown_root"),
        (ErrorKind::UnknownField, "unknown_field"),
        (ErrorKind::RestrictedClaim, "restricted_claim"),
        (ErrorKind::NotAnObject, "not_an_object"),
        (ErrorKind::TooLarge, "too_large"),
        (ErrorKind::TooDeep, "too_deep"),
        (ErrorKind::TooManyExpressions, "too_many_expressions"),
    ];
    for (kind, code) in codes {
        assert_eq!(kind.code(), code);
    }
}

#[test]
fn claim_names_and_traits() {
    let t = parse(json!({"dept": "{{user.user_metadata.department}}", "static": 1}));
    let mut names: Vec<&str> = t.claim_names().collect();
    names.sort_unstable();
    assert_eq!(names, ["dept", "static"]);
    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    assert_traits::<Template>();
    assert_eq!(
        Limits::default(),
        Limits {
            max_bytes: 16 * 1024,
            max_depth: 16,
            max_expressions: 256
        }
    );
}

#[test]
fn syntax_md_example() {
    let out = render(json!({
      "department": "{{user.user_metadata.department}}",
      "org_tier": "{{organization.metadata.tier}}",
      "full_name": "{{user.given_name}} {{user.family_name}}",
      "https://example.com/roles": "{{user.roles}}",
      "region": "{{user.user_metadata.region || organization.metadata.region || 'eu'}}"
    }));
    assert_eq!(
        out,
        json!({"department": "engineering", "org_tier": "gold", "full_name": "Ada Lovelace",
               "https://example.com/roles": ["admin", "viewer"], "region": "eu"})
    );
}

#[test]
fn an_error_at_the_end_points_past_the_last_character() {
    // Found by the proptest: an expression cut off after a dot.
    let errs = Template::parse(&json!({"a": "{{user."}), RESTRICTED, &Limits::default())
        .expect_err("unclosed expression");
    assert_eq!(errs[0].pointer, "/a");
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert!(errs[0].offset <= "{{user.".len(), "{:?}", errs[0]);
}
