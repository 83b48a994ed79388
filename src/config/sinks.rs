//! Event sinks: where findings, actions and file records are sent.
//!
//! The `sinks` section lists outputs; each names its target in the same
//! syntax as `leakhound scan --sink` (`syslog+tcp://host:port`,
//! `jsonl:/path`, `journald`, `stdout` ...) and may set the options of its
//! kind. [`crate::sinks::from_config`] builds the running sinks from it.

use std::path::PathBuf;

use serde::Deserialize;

use super::Section;

/// The `sinks` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sinks {
    /// Every output; events go to all of them.
    pub outputs: Vec<SinkConfig>,
}

/// One output.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// The target: `stdout`, `jsonl:PATH`, `journald[:SOCKET]`,
    /// `syslog[:SOCKET]`, `syslog+udp://HOST:PORT`,
    /// `syslog+tcp://HOST:PORT`, `syslog+tls://HOST:PORT`.
    pub to: String,
    /// Names the spool directory (default: made from `to`).
    pub name: Option<String>,
    /// Syslog facility (default `local0`).
    pub facility: Option<String>,
    /// Syslog APP-NAME and journald SYSLOG_IDENTIFIER (default `leakhound`).
    pub app_name: Option<String>,
    /// TLS: the CA certificates (PEM) that sign the collector's certificate.
    pub ca: Option<PathBuf>,
    /// TLS: a client certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// TLS: the client certificate's private key (PEM).
    pub key: Option<PathBuf>,
    /// TLS: the name the collector's certificate must carry (default: the host).
    pub server_name: Option<String>,
    /// Spool size cap in MiB (default 256).
    pub spool_max_mb: Option<u64>,
    /// Events held in memory for the sending thread (default 10000).
    pub queue: Option<usize>,
    /// Seconds a finishing scan keeps trying to deliver (default 10).
    pub flush_timeout_s: Option<u64>,
    /// How each event is written (default `json`, leakhound's schema):
    /// `ecs`, `ocsf` or `cef` for a SIEM (`docs/events.md`). For syslog
    /// targets it is the message; journald entries are always `json`.
    pub format: Option<crate::report::EventFormat>,
}

impl SinkConfig {
    /// Parses the command-line form `TARGET[?key=value&key=value]`, where
    /// the keys are this struct's fields (`ca`, `cert`, `facility` ...).
    pub fn from_spec(spec: &str) -> Result<SinkConfig, String> {
        let (to, query) = match spec.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (spec, None),
        };
        let mut c = SinkConfig {
            to: to.to_string(),
            ..SinkConfig::default()
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("sink {to}: `{pair}` is not key=value"))?;
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("sink {to}: {k} must be a whole number, not `{v}`"))
            };
            match k {
                "name" => c.name = Some(v.into()),
                "facility" => c.facility = Some(v.into()),
                "app_name" => c.app_name = Some(v.into()),
                "ca" => c.ca = Some(v.into()),
                "cert" => c.cert = Some(v.into()),
                "key" => c.key = Some(v.into()),
                "server_name" => c.server_name = Some(v.into()),
                "spool_max_mb" => c.spool_max_mb = Some(num(v)?),
                "queue" => c.queue = Some(num(v)? as usize),
                "flush_timeout_s" => c.flush_timeout_s = Some(num(v)?),
                "format" => {
                    c.format = Some(crate::report::EventFormat::parse(v).ok_or_else(|| {
                        format!("sink {to}: format must be json, ecs, ocsf or cef, not `{v}`")
                    })?)
                }
                _ => {
                    return Err(format!(
                        "sink {to}: unknown option `{k}` (known: name, facility, app_name, ca, cert, key, server_name, spool_max_mb, queue, flush_timeout_s, format)"
                    ));
                }
            }
        }
        c.problem().map_or(Ok(c), Err)
    }

    /// What is wrong with this output, if anything.
    pub fn problem(&self) -> Option<String> {
        let target = match crate::sinks::Target::parse(&self.to) {
            Ok(t) => t,
            Err(e) => return Some(e),
        };
        let to = &self.to;
        if let Some(f) = &self.facility
            && crate::sinks::syslog::facility_code(f).is_none()
        {
            return Some(format!(
                "sink {to}: facility `{f}` is not one of {}",
                crate::sinks::syslog::facility_names()
            ));
        }
        if let Some(a) = &self.app_name
            && (a.is_empty() || a.len() > 48 || !a.chars().all(|c| c.is_ascii_graphic()))
        {
            return Some(format!(
                "sink {to}: app_name must be 1 to 48 printable ASCII characters without spaces"
            ));
        }
        let is_tls = matches!(
            target,
            crate::sinks::Target::Syslog(crate::sinks::Net::Tls(_))
        );
        if is_tls && self.ca.is_none() {
            return Some(format!(
                "sink {to}: TLS needs `ca`, the PEM file of the CA that signs the collector's certificate"
            ));
        }
        if !is_tls && (self.ca.is_some() || self.cert.is_some() || self.key.is_some()) {
            return Some(format!(
                "sink {to}: ca, cert and key apply only to syslog+tls://"
            ));
        }
        if self.cert.is_some() != self.key.is_some() {
            return Some(format!(
                "sink {to}: a client certificate needs both `cert` and `key`"
            ));
        }
        if matches!(target, crate::sinks::Target::Journald(_))
            && self
                .format
                .is_some_and(|f| f != crate::report::EventFormat::Json)
        {
            return Some(format!(
                "sink {to}: journald entries are always leakhound's JSON fields; `format` applies to stdout, jsonl: and syslog targets"
            ));
        }
        if self.spool_max_mb == Some(0) || self.queue == Some(0) {
            return Some(format!(
                "sink {to}: spool_max_mb and queue must be at least 1"
            ));
        }
        if let Some(n) = &self.name
            && (n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Some(format!(
                "sink {to}: name must be letters, digits, `-`, `_` or `.`"
            ));
        }
        None
    }
}

impl Section for Sinks {
    fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.problem().map(|m| format!("sinks.outputs[{i}]: {m}")))
            .collect();
        let mut names: Vec<String> = self.outputs.iter().map(crate::sinks::spool_name).collect();
        names.sort();
        for w in names.windows(2) {
            if w[0] == w[1] {
                p.push(format!(
                    "sinks.outputs: two outputs share the spool name `{}` (give one a different `name`)",
                    w[0]
                ));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_with_options() {
        let c = SinkConfig::from_spec(
            "syslog+tls://logs.example:6514?ca=/etc/ca.pem&facility=auth&flush_timeout_s=3",
        )
        .unwrap();
        assert_eq!(c.to, "syslog+tls://logs.example:6514");
        assert_eq!(c.ca, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.facility.as_deref(), Some("auth"));
        assert_eq!(c.flush_timeout_s, Some(3));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = SinkConfig::from_spec("syslog+tls://h:1").unwrap_err();
        assert!(e.contains("needs `ca`"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://h:1?facility=nope").unwrap_err();
        assert!(e.contains("local0"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://h:1?colour=red").unwrap_err();
        assert!(e.contains("unknown option `colour`"), "{e}");
        let e = SinkConfig::from_spec("kafka://x").unwrap_err();
        assert!(e.contains("stdout"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://nohost").unwrap_err();
        assert!(e.contains("HOST:PORT"), "{e}");
    }

    #[test]
    fn config_file_section() {
        let c = crate::config::Config::parse(
            std::path::Path::new("t.yaml"),
            "sinks:\n  outputs:\n    - to: syslog+tcp://127.0.0.1:514\n    - to: syslog+tcp://127.0.0.1:514\n",
        )
        .unwrap_err()
        .to_string();
        assert!(c.contains("share the spool name"), "{c}");
        let c = crate::config::Config::parse(
            std::path::Path::new("t.yaml"),
            "sinks:\n  outputs:\n    - to: jsonl:/var/log/x.jsonl\n      facilty: auth\n",
        )
        .unwrap_err()
        .to_string();
        assert!(c.contains("t.yaml:4") && c.contains("facilty"), "{c}");
    }
}
