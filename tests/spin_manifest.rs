//! `spin.toml` stays in step with the settings the component reads: every
//! key is an application variable mapped to a component variable, secrets
//! are marked, `est_host` is required and is the only outbound host.

use est_ca_handler::config::keys;
use toml::Value;

fn manifest() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spin.toml")).unwrap();
    Value::Table(toml::from_str(&text).expect("spin.toml is TOML"))
}

#[test]
fn every_setting_is_a_variable_mapped_to_the_component() {
    let manifest = manifest();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let variables = manifest["variables"].as_table().unwrap();
    let component = &manifest["component"]["est-ca-handler"];
    let mapped = component["variables"].as_table().unwrap();
    // Under Spin every setting is a variable of its own; the `*_variable`
    // indirections through the environment are for other hosts.
    let settings = keys::ALL.iter().filter(|key| !key.ends_with("_variable"));
    for &key in settings {
        assert!(
            variables.contains_key(key),
            "application variable {key} missing"
        );
        assert_eq!(
            mapped[key].as_str(),
            Some(format!("{{{{ {key} }}}}").as_str()),
            "component variable {key}"
        );
    }
    for &secret in keys::SECRETS {
        assert_eq!(
            variables[secret]["secret"].as_bool(),
            Some(true),
            "{secret} must be secret"
        );
    }
    assert_eq!(variables[keys::EST_HOST]["required"].as_bool(), Some(true));
    let hosts = component["allowed_outbound_hosts"].as_array().unwrap();
    assert_eq!(hosts, &vec![Value::String("{{ est_host }}".into())]);
    assert_eq!(
        component["source"].as_str(),
        Some("target/wasm32-wasip2/wasm-release/est_ca_handler.wasm")
    );
    assert_eq!(
        manifest["trigger"]["http"][0]["component"].as_str(),
        Some("est-ca-handler")
    );
}
