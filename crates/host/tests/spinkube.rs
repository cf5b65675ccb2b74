//! `deploy/spinkube/est-ca-handler.yaml` stays in step with the settings the
//! component reads and with `spin.toml`: the SpinApp passes every
//! application variable, secrets only from a Kubernetes Secret that the file
//! defines with that key, and the runtime config it names exists.

use est_ca_handler::config::keys;
use serde::Deserialize;
use std::collections::BTreeMap;
use yaml_serde::Value;

fn documents() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/spinkube/est-ca-handler.yaml"
    ))
    .unwrap();
    yaml_serde::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).expect("YAML"))
        .filter(|value| !value.is_null())
        .collect()
}

fn spin_variables() -> BTreeMap<String, toml::Value> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    manifest["variables"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn the_spinapp_passes_every_setting_and_takes_secrets_from_a_secret() {
    let documents = documents();
    let of_kind = |kind: &str| -> Vec<&Value> {
        documents
            .iter()
            .filter(|d| d["kind"].as_str() == Some(kind))
            .collect()
    };
    let apps = of_kind("SpinApp");
    assert_eq!(apps.len(), 1);
    let app = apps[0];
    assert_eq!(
        app["apiVersion"].as_str(),
        Some("core.spinkube.dev/v1alpha1")
    );
    assert_eq!(
        app["spec"]["executor"].as_str(),
        Some("containerd-shim-spin")
    );
    assert!(app["spec"]["image"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(app["spec"]["replicas"].as_u64().is_some_and(|n| n >= 2));

    // Secrets: key -> data of each Secret the file defines.
    let secrets: BTreeMap<&str, &Value> = of_kind("Secret")
        .into_iter()
        .map(|s| (s["metadata"]["name"].as_str().unwrap(), &s["stringData"]))
        .collect();

    let variables: BTreeMap<&str, &Value> = app["spec"]["variables"]
        .as_sequence()
        .expect("spec.variables")
        .iter()
        .map(|v| (v["name"].as_str().expect("a variable's name"), v))
        .collect();
    // The same variables as spin.toml's application variables, which the
    // spin.toml test holds to the component's settings.
    let in_spin_toml: Vec<String> = spin_variables().into_keys().collect();
    let in_spinapp: Vec<String> = variables.keys().map(|k| k.to_string()).collect();
    assert_eq!(in_spinapp, in_spin_toml);
    for key in keys::ALL.iter().filter(|k| !k.ends_with("_variable")) {
        assert!(variables.contains_key(key), "{key} is not passed");
    }
    for (name, variable) in &variables {
        let secret = keys::SECRETS.contains(name);
        let reference = &variable["valueFrom"]["secretKeyRef"];
        if secret {
            assert!(
                variable.get("value").is_none(),
                "secret {name} must not be written in the manifest"
            );
            let secret_name = reference["name"].as_str().expect("secretKeyRef.name");
            let key = reference["key"].as_str().expect("secretKeyRef.key");
            let data = secrets
                .get(secret_name)
                .unwrap_or_else(|| panic!("{name}: no Secret {secret_name} in the file"));
            assert!(
                data.get(key).is_some(),
                "{name}: Secret {secret_name} has no key {key}"
            );
        } else {
            assert!(
                variable.get("value").is_some_and(Value::is_string),
                "{name} needs a string value"
            );
        }
    }
    assert!(
        variables["est_host"]["value"]
            .as_str()
            .is_some_and(|v| v.starts_with("https://")),
        "est_host"
    );

    // The runtime config (Spin's [[client_tls]]) comes from a Secret in the file.
    let runtime = app["spec"]["runtimeConfig"]["loadFromSecret"]
        .as_str()
        .expect("runtimeConfig.loadFromSecret");
    let config = secrets[runtime]["runtime-config.toml"]
        .as_str()
        .expect("runtime-config.toml in the runtime config Secret");
    let config: toml::Table = toml::from_str(config).expect("the runtime config is TOML");
    let tls = &config["client_tls"][0];
    assert_eq!(
        tls["component_ids"].as_array().unwrap()[0].as_str(),
        Some("est-ca-handler")
    );
    let roots = tls["ca_roots_file"].as_str().unwrap();
    let mount = app["spec"]["volumeMounts"][0]["mountPath"]
        .as_str()
        .unwrap();
    assert!(
        roots.starts_with(mount),
        "{roots} is under the mounted {mount}"
    );
}
