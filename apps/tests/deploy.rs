//! The files under deploy/, which cannot be run here: every container command line of
//! the Kubernetes manifests is one the `neptune` binary accepts (after expanding
//! `$(VAR)` references as Kubernetes does), the manifests agree with each other (the
//! Service's port with the driver's `--listen` and the executors' `--driver`, the
//! driver's `--expect` with the executors' replicas, each container's `--certs` with a
//! mounted Secret holding its certificate), the Dockerfile's image runs the binary as a
//! non-root user, and the example hostfile parses. Each check is also shown to fail on
//! a manifest or a Dockerfile with one mistake. And the manifests' command lines, with
//! loopback addresses, run a cluster whose executors share one certificate.

mod common;

use common::{cluster, text, TempDir};
use neptune::dataflow::cluster::hostfile::Hostfile;
use neptune_apps::cli::check_args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy_dir() -> PathBuf {
    // deploy/ is the workspace's, beside this package (apps/).
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// Every `*.yaml`/`*.yml` under deploy/k8s, as (file name, text), by name.
fn manifest_files() -> Vec<(String, String)> {
    let dir = deploy_dir().join("k8s");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A container of a pod template.
struct Container {
    /// `file: Kind/name/container`, for messages.
    place: String,
    /// The `neptune` command line after the program, with `$(VAR)` expanded.
    argv: Vec<String>,
    /// Declared ports: (name, number, protocol).
    ports: Vec<(Option<String>, i64, String)>,
    /// Volume mounts: (volume, path).
    mounts: Vec<(String, String)>,
    /// The pod's secret volumes, by volume name.
    secret_volumes: BTreeMap<String, SecretVolume>,
    /// The pod template's labels.
    labels: BTreeMap<String, String>,
    /// The workload's replicas (1 when not given; Jobs run one pod).
    replicas: i64,
}

/// What a secret volume shows: the Secret's name, and the file names with the Secret
/// key each shows (`None`: every key, under its own name).
type SecretVolume = (String, Option<Vec<(String, String)>>);

/// A Service's port: (port, target port as written, protocol).
type ServicePort = (i64, Option<Yaml>, String);

struct Service {
    name: String,
    selector: BTreeMap<String, String>,
    ports: Vec<ServicePort>,
}

/// Everything the checks look at.
#[derive(Default)]
struct Manifests {
    containers: Vec<Container>,
    services: Vec<Service>,
    /// Secret name to its keys.
    secrets: BTreeMap<String, Vec<String>>,
}

fn str_map(y: &Yaml) -> BTreeMap<String, String> {
    y.as_hash()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map_or(&[], Vec::as_slice)
}

/// Strings of a YAML list; an element that is no string is an error, as Kubernetes
/// refuses it.
fn strings(y: &Yaml, place: &str, what: &str) -> Result<Vec<String>, String> {
    list(y)
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{place}: {what} element {v:?} is not a string"))
        })
        .collect()
}

/// Kubernetes' expansion of `$(VAR)` in command and args: `$$` is a `$`; a reference to
/// a variable the container does not define is left as it is by Kubernetes, so it is
/// an error here.
fn expand(arg: &str, env: &BTreeMap<String, String>, place: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
        {
            let value = env
                .get(name)
                .ok_or_else(|| format!("{place}: {arg:?} names $({name}), which is not in env"))?;
            out.push_str(value);
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A placeholder for an env variable's value: an address for a pod's IP, so that a
/// flag expecting an address accepts it.
fn env_value(var: &Yaml) -> String {
    if let Some(v) = var["value"].as_str() {
        return v.to_owned();
    }
    match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
        Some("status.podIP" | "status.hostIP") => "10.1.2.3".to_owned(),
        Some("status.podIPs") => "10.1.2.3,fd00::3".to_owned(),
        _ => "placeholder".to_owned(),
    }
}

/// The pod template of a workload (or a Pod), and its replicas.
fn pod_template(doc: &Yaml) -> Option<(&Yaml, i64)> {
    let spec = &doc["spec"];
    match doc["kind"].as_str()? {
        "Pod" => Some((doc, 1)),
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            Some((&spec["template"], spec["replicas"].as_i64().unwrap_or(1)))
        }
        "DaemonSet" => Some((&spec["template"], 1)),
        "Job" => Some((&spec["template"], spec["parallelism"].as_i64().unwrap_or(1))),
        "CronJob" => Some((&spec["jobTemplate"]["spec"]["template"], 1)),
        _ => None,
    }
}

/// Parses the manifests `files` (name, text) into what the checks need.
fn load(files: &[(String, String)]) -> Result<Manifests, String> {
    let mut m = Manifests::default();
    for (file, text) in files {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("{file}: {e}"))?;
        for doc in docs.iter().filter(|d| !d.is_null()) {
            let kind = doc["kind"]
                .as_str()
                .ok_or_else(|| format!("{file}: a document without a kind"))?;
            let name = doc["metadata"]["name"]
                .as_str()
                .ok_or_else(|| format!("{file}: a {kind} without a name"))?;
            match kind {
                "Service" => m.services.push(Service {
                    name: name.to_owned(),
                    selector: str_map(&doc["spec"]["selector"]),
                    ports: list(&doc["spec"]["ports"])
                        .iter()
                        .map(|p| {
                            let target = &p["targetPort"];
                            (
                                p["port"].as_i64().unwrap_or(-1),
                                (!target.is_badvalue()).then(|| target.clone()),
                                p["protocol"].as_str().unwrap_or("TCP").to_owned(),
                            )
                        })
                        .collect(),
                }),
                "Secret" => {
                    let keys = ["data", "stringData"]
                        .iter()
                        .filter_map(|section| doc[*section].as_hash())
                        .flat_map(|h| h.keys().filter_map(|k| k.as_str().map(str::to_owned)))
                        .collect();
                    m.secrets.insert(name.to_owned(), keys);
                }
                _ => {}
            }
            let Some((template, replicas)) = pod_template(doc) else {
                continue;
            };
            let spec = &template["spec"];
            let secret_volumes = list(&spec["volumes"])
                .iter()
                .filter_map(|v| {
                    let secret = &v["secret"];
                    let items = secret["items"].as_vec().map(|items| {
                        items
                            .iter()
                            .map(|i| {
                                (
                                    i["path"].as_str().unwrap_or("").to_owned(),
                                    i["key"].as_str().unwrap_or("").to_owned(),
                                )
                            })
                            .collect()
                    });
                    Some((
                        v["name"].as_str()?.to_owned(),
                        (secret["secretName"].as_str()?.to_owned(), items),
                    ))
                })
                .collect::<BTreeMap<_, _>>();
            let containers = list(&spec["containers"])
                .iter()
                .chain(list(&spec["initContainers"]));
            for c in containers {
                let place = format!(
                    "{file}: {kind}/{name}/{}",
                    c["name"].as_str().unwrap_or("?")
                );
                let env: BTreeMap<String, String> = list(&c["env"])
                    .iter()
                    .filter_map(|v| Some((v["name"].as_str()?.to_owned(), env_value(v))))
                    .collect();
                let command = strings(&c["command"], &place, "command")?;
                let args = strings(&c["args"], &place, "args")?;
                // Without a command the image's ENTRYPOINT, `neptune`, runs.
                let rest = match command.split_first() {
                    None => args,
                    Some((program, more))
                        if program == "neptune" || program.ends_with("/neptune") =>
                    {
                        more.iter().cloned().chain(args).collect()
                    }
                    Some((program, _)) => {
                        return Err(format!("{place}: runs {program:?}, not neptune"))
                    }
                };
                let argv = rest
                    .iter()
                    .map(|a| expand(a, &env, &place))
                    .collect::<Result<Vec<_>, _>>()?;
                m.containers.push(Container {
                    place,
                    argv,
                    ports: list(&c["ports"])
                        .iter()
                        .map(|p| {
                            (
                                p["name"].as_str().map(str::to_owned),
                                p["containerPort"].as_i64().unwrap_or(-1),
                                p["protocol"].as_str().unwrap_or("TCP").to_owned(),
                            )
                        })
                        .collect(),
                    mounts: list(&c["volumeMounts"])
                        .iter()
                        .filter_map(|v| {
                            Some((
                                v["name"].as_str()?.to_owned(),
                                v["mountPath"].as_str()?.trim_end_matches('/').to_owned(),
                            ))
                        })
                        .collect(),
                    secret_volumes: secret_volumes.clone(),
                    labels: str_map(&template["metadata"]["labels"]),
                    replicas,
                });
            }
        }
    }
    Ok(m)
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `argv`.
fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == name {
            argv.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(name)?.strip_prefix('=')
        }
    })
}

fn port_of(place: &str, what: &str, addr: &str) -> Result<i64, String> {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .map(i64::from)
        .ok_or_else(|| format!("{place}: {what} {addr:?} has no port"))
}

/// The checks: every command line is accepted, and the manifests agree.
fn check(m: &Manifests) -> Result<(), String> {
    for c in &m.containers {
        check_args(&c.argv).map_err(|e| {
            format!(
                "{}: `neptune {}` is refused: {e}",
                c.place,
                c.argv.join(" ")
            )
        })?;
    }
    let role = |r: &str| -> Vec<&Container> {
        m.containers
            .iter()
            .filter(|c| c.argv.first().is_some_and(|a| a == r))
            .collect()
    };
    let (drivers, executors) = (role("driver"), role("executor"));
    let [driver] = drivers[..] else {
        return Err(format!("{} driver containers, not one", drivers.len()));
    };
    if executors.is_empty() {
        return Err("no executor container".to_owned());
    }

    // The Service in front of the driver, and its port.
    let listen = flag(&driver.argv, "--listen").ok_or("the driver has no --listen")?;
    let listen_port = port_of(&driver.place, "--listen", listen)?;
    let services: Vec<&Service> = m
        .services
        .iter()
        .filter(|s| {
            !s.selector.is_empty()
                && s.selector
                    .iter()
                    .all(|(k, v)| driver.labels.get(k) == Some(v))
        })
        .collect();
    let [service] = services[..] else {
        return Err(format!(
            "{} Services select the driver's pod, not one",
            services.len()
        ));
    };
    let (port, target, protocol) = match &service.ports[..] {
        [only] => only,
        ports => {
            return Err(format!(
                "Service {} has {} ports, not one",
                service.name,
                ports.len()
            ))
        }
    };
    if protocol != "UDP" {
        return Err(format!(
            "Service {}'s port is {protocol}; QUIC needs UDP",
            service.name
        ));
    }
    let target_port = match target {
        None => *port,
        Some(Yaml::Integer(n)) => *n,
        Some(Yaml::String(name)) => driver
            .ports
            .iter()
            .find(|(n, _, proto)| n.as_deref() == Some(name) && proto == "UDP")
            .map(|(_, p, _)| *p)
            .ok_or_else(|| {
                format!(
                    "{}: no UDP port named {name:?} (the Service's targetPort)",
                    driver.place
                )
            })?,
        Some(other) => return Err(format!("targetPort {other:?}")),
    };
    if target_port != listen_port {
        return Err(format!(
            "Service {} forwards to port {target_port}, the driver listens on {listen_port}",
            service.name
        ));
    }

    // Executors dial the Service at its port; the driver waits for all of them.
    let mut replicas = 0;
    for e in &executors {
        let addr = flag(&e.argv, "--driver").ok_or(format!("{}: no --driver", e.place))?;
        let (host, _) = addr.rsplit_once(':').unwrap_or((addr, ""));
        if host != service.name && !host.starts_with(&format!("{}.", service.name)) {
            return Err(format!(
                "{}: --driver {addr} is not Service {}",
                e.place, service.name
            ));
        }
        let dialled = port_of(&e.place, "--driver", addr)?;
        if dialled != *port {
            return Err(format!(
                "{}: --driver {addr} dials port {dialled}, Service {} serves {port}",
                e.place, service.name
            ));
        }
        if let (Some(adv), Some(bind)) = (flag(&e.argv, "--advertise"), flag(&e.argv, "--bind")) {
            let (a, b) = (
                port_of(&e.place, "--advertise", adv)?,
                port_of(&e.place, "--bind", bind)?,
            );
            if a != b {
                return Err(format!(
                    "{}: --advertise port {a} is not the --bind port {b}",
                    e.place
                ));
            }
        }
        replicas += e.replicas;
    }
    let expect: i64 = flag(&driver.argv, "--expect")
        .unwrap_or("1")
        .parse()
        .map_err(|e| format!("--expect: {e}"))?;
    if expect != replicas {
        return Err(format!(
            "the driver expects {expect} executors, the manifests run {replicas}"
        ));
    }

    // Each container finds ca.pem and its node's NAME.pem and NAME.key under --certs.
    for c in drivers.iter().chain(&executors) {
        let certs = flag(&c.argv, "--certs")
            .ok_or(format!("{}: no --certs", c.place))?
            .trim_end_matches('/');
        let default = if c.argv[0] == "driver" { "driver" } else { "" };
        let name = flag(&c.argv, "--name").unwrap_or(default);
        let (volume, _) = c
            .mounts
            .iter()
            .find(|(_, path)| path == certs)
            .ok_or(format!(
                "{}: nothing is mounted at --certs {certs}",
                c.place
            ))?;
        let (secret, items) = c.secret_volumes.get(volume).ok_or(format!(
            "{}: volume {volume} at {certs} is no Secret",
            c.place
        ))?;
        let keys = m
            .secrets
            .get(secret)
            .ok_or(format!("{}: no manifest of Secret {secret}", c.place))?;
        let files: Vec<(String, String)> = match items {
            Some(items) => items.clone(),
            None => keys.iter().map(|k| (k.clone(), k.clone())).collect(),
        };
        for wanted in [
            "ca.pem".to_owned(),
            format!("{name}.pem"),
            format!("{name}.key"),
        ] {
            let (_, key) = files
                .iter()
                .find(|(path, _)| *path == wanted)
                .ok_or(format!(
                    "{}: {certs}/{wanted} is not in the mounted Secret {secret}",
                    c.place
                ))?;
            if !keys.contains(key) {
                return Err(format!(
                    "{}: {certs}/{wanted} shows key {key}, which Secret {secret} lacks",
                    c.place
                ));
            }
        }
    }
    Ok(())
}

/// The manifests with `from` replaced by `to` (which must occur).
fn with_mistake(from: &str, to: &str) -> Vec<(String, String)> {
    let mut files = manifest_files();
    let mut found = false;
    for (_, text) in &mut files {
        if text.contains(from) {
            found = true;
            *text = text.replace(from, to);
        }
    }
    assert!(found, "no manifest contains {from:?}");
    files
}

fn check_files(files: &[(String, String)]) -> Result<(), String> {
    check(&load(files)?)
}

#[test]
fn the_manifests_command_lines_are_accepted_and_agree() {
    let files = manifest_files();
    assert!(files.len() >= 3, "{files:?}");
    let m = load(&files).unwrap();
    let roles: Vec<&str> = m.containers.iter().map(|c| c.argv[0].as_str()).collect();
    assert!(
        roles.contains(&"driver") && roles.contains(&"executor"),
        "{roles:?}"
    );
    // The pod IP reached the executors' --advertise.
    let executor = m
        .containers
        .iter()
        .find(|c| c.argv[0] == "executor")
        .unwrap();
    assert_eq!(flag(&executor.argv, "--advertise"), Some("10.1.2.3:7078"));
    check(&m).unwrap();
}

#[test]
fn a_wrong_flag_is_refused_by_the_same_checker() {
    let m = load(&manifest_files()).unwrap();
    let executor = m
        .containers
        .iter()
        .find(|c| c.argv[0] == "executor")
        .unwrap();
    let mut argv = executor.argv.clone();
    argv.push("--no-such-flag".to_owned());
    let e = check_args(&argv).unwrap_err();
    assert!(e.contains("--no-such-flag"), "{e}");
    let e = check_files(&with_mistake("- --advertise", "- --advertize")).unwrap_err();
    assert!(e.contains("--advertize"), "{e}");
    // An application option the driver does not know.
    let e = check_files(&with_mistake("- --seconds", "- --secs")).unwrap_err();
    assert!(e.contains("--secs"), "{e}");
}

#[test]
fn mistakes_between_the_manifests_are_found() {
    for (from, to, says) in [
        (
            "neptune-driver:7077",
            "neptune-driver:7000",
            "dials port 7000",
        ),
        ("- 0.0.0.0:7077", "- 0.0.0.0:7000", "listens on 7000"),
        (
            "protocol: UDP\n      port: 7077",
            "protocol: TCP\n      port: 7077",
            "UDP",
        ),
        ("replicas: 2", "replicas: 3", "expects 2 executors"),
        ("$(POD_IP):7078", "$(POD_ADDRESS):7078", "$(POD_ADDRESS)"),
        (
            "- --name\n            - executor",
            "- --name\n            - executor-1",
            "executor-1.pem",
        ),
        ("path: executor.key", "path: exec.key", "executor.key"),
        ("  executor.key: |", "  executors.key: |", "lacks"),
        (
            "mountPath: /etc/neptune/certs",
            "mountPath: /certs",
            "nothing is mounted",
        ),
        ("- 0.0.0.0:7078", "- 0.0.0.0:7079", "--bind port"),
    ] {
        let e = check_files(&with_mistake(from, to)).expect_err(to);
        assert!(e.contains(says), "{from:?} -> {to:?}: {e}");
    }
}

/// The Dockerfile's stages: the builder builds the binary, the image holds it and runs
/// it as a non-root user.
fn check_dockerfile(text: &str) -> Result<(), String> {
    // Instructions, with `\` continuations joined and comments dropped.
    let joined = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let instructions: Vec<(String, String)> = joined
        .lines()
        .filter_map(|l| {
            let (op, rest) = l.trim().split_once(char::is_whitespace)?;
            Some((op.to_ascii_uppercase(), rest.trim().to_owned()))
        })
        .collect();
    let stages: Vec<&[(String, String)]> = {
        let starts: Vec<usize> = instructions
            .iter()
            .enumerate()
            .filter(|(_, (op, _))| op == "FROM")
            .map(|(i, _)| i)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(n, &s)| &instructions[s..*starts.get(n + 1).unwrap_or(&instructions.len())])
            .collect()
    };
    let [build, .., image] = stages[..] else {
        return Err(format!(
            "{} stages, not a builder and an image",
            stages.len()
        ));
    };
    let has = |stage: &[(String, String)], op: &str, part: &str| {
        stage.iter().any(|(o, rest)| o == op && rest.contains(part))
    };
    if !build[0].1.starts_with("rust:1-bookworm")
        || !has(build, "RUN", "cargo build --release --locked --bin neptune")
    {
        return Err("the first stage does not build neptune on rust:1-bookworm".to_owned());
    }
    if image[0].1 != "debian:bookworm-slim" {
        return Err(format!("the image is FROM {}", image[0].1));
    }
    if !has(image, "COPY", " /usr/local/bin/neptune") {
        return Err("the image does not put the binary at /usr/local/bin/neptune".to_owned());
    }
    let user = image
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, u)| u.split(':').next().unwrap_or("").to_owned())
        .ok_or("the image runs as root (no USER)")?;
    if user.parse::<u32>().map_or(true, |uid| uid == 0) {
        return Err(format!(
            "USER {user}: Kubernetes' runAsNonRoot needs a numeric, non-zero uid"
        ));
    }
    let entrypoint = image
        .iter()
        .rev()
        .find(|(op, _)| op == "ENTRYPOINT")
        .ok_or("the image has no ENTRYPOINT")?;
    let entrypoint: Vec<String> = serde_json::from_str(&entrypoint.1)
        .map_err(|e| format!("ENTRYPOINT {} is not the exec form: {e}", entrypoint.1))?;
    if entrypoint != ["neptune"] {
        return Err(format!(
            "ENTRYPOINT {entrypoint:?}: the manifests' args are neptune's"
        ));
    }
    Ok(())
}

#[test]
fn the_dockerfile_builds_and_runs_the_binary() {
    let text = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    check_dockerfile(&text).unwrap();
    for (from, to, says) in [
        (
            r#"ENTRYPOINT ["neptune"]"#,
            r#"ENTRYPOINT ["sh"]"#,
            "ENTRYPOINT",
        ),
        (
            r#"ENTRYPOINT ["neptune"]"#,
            "ENTRYPOINT neptune",
            "exec form",
        ),
        ("USER 10001:10001", "USER neptune", "numeric"),
        ("--bin neptune", "--bin other", "first stage"),
    ] {
        assert!(text.contains(from), "{from}");
        let e = check_dockerfile(&text.replace(from, to)).expect_err(to);
        assert!(e.contains(says), "{to}: {e}");
    }
}

#[test]
fn the_example_hostfile_parses() {
    let path = deploy_dir().join("hostfile.example");
    let example = std::fs::read_to_string(&path).unwrap();
    let file = Hostfile::parse(&example).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!file.executors.is_empty());
    // The ssh script is at least valid bash.
    let script = deploy_dir().join("run-hostfile.sh");
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Sets `--name VALUE` in `argv` (appended when absent).
fn set_flag(argv: &mut Vec<String>, name: &str, value: &str) {
    match argv.iter().position(|a| a == name) {
        Some(i) if i + 1 < argv.len() => argv[i + 1] = value.to_owned(),
        _ => argv.extend([name.to_owned(), value.to_owned()]),
    }
}

#[test]
fn the_manifests_command_lines_run_a_cluster_on_loopback() {
    // The manifests' own command lines, with what one host needs changed: loopback
    // addresses (`localhost` stands for the Service's name, so the driver is still
    // dialled by name), the certificates' directory, and a short run. As in the
    // Deployment, every executor has the one `executor` certificate.
    let m = load(&manifest_files()).unwrap();
    let driver = m.containers.iter().find(|c| c.argv[0] == "driver").unwrap();
    let executors: Vec<&Container> = m
        .containers
        .iter()
        .filter(|c| c.argv[0] == "executor")
        .collect();
    let replicas: usize = executors.iter().map(|e| e.replicas as usize).sum();
    let tmp = TempDir::new("deploy-loopback");
    let dir = tmp.path().to_str().unwrap();
    let cert = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_neptune"))
            .arg("cert")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    cert(&["init", dir]);
    let mut names: Vec<&str> = executors
        .iter()
        .map(|e| flag(&e.argv, "--name").unwrap())
        .chain([flag(&driver.argv, "--name").unwrap_or("driver")])
        .collect();
    names.dedup();
    for name in names {
        cert(&["issue", "--ca", dir, name]);
    }
    let stdout = cluster::run_on_free_ports(tmp.path(), 1 + replicas, |ports, _| {
        let mut d = driver.argv.clone();
        set_flag(&mut d, "--listen", &format!("127.0.0.1:{}", ports[0]));
        set_flag(&mut d, "--certs", dir);
        for (k, v) in [
            ("--seconds", "2"),
            ("--rows", "20000"),
            ("--holdout", "2000"),
            ("--rate", "2000"),
            ("--slots", "1"),
        ] {
            set_flag(&mut d, k, v);
        }
        let mut commands = vec![d];
        let mut shuffle_ports = ports[1..].iter();
        for e in &executors {
            for _ in 0..e.replicas {
                let port = shuffle_ports.next().unwrap();
                let mut a = e.argv.clone();
                set_flag(&mut a, "--driver", &format!("localhost:{}", ports[0]));
                set_flag(&mut a, "--certs", dir);
                set_flag(&mut a, "--advertise", &format!("127.0.0.1:{port}"));
                set_flag(&mut a, "--bind", &format!("127.0.0.1:{port}"));
                commands.push(a);
            }
        }
        commands
    });
    let ran = cluster::check_report(&stdout);
    let expected: Vec<(String, u64)> = executors
        .iter()
        .flat_map(|e| {
            let name = flag(&e.argv, "--name").unwrap().to_owned();
            let slots: u64 = flag(&e.argv, "--slots").unwrap_or("1").parse().unwrap();
            std::iter::repeat_n((name, slots), e.replicas as usize)
        })
        .collect();
    assert_eq!(ran, expected, "{stdout}");
}
