//! The configuration of the sinks: the `sinks` section of `leakhound.yaml`
//! and the command-line form of `leakhound scan --sink`.
//!
//! A sink is written as a [`SinkConfig`]: a target in the same syntax on
//! both sides (`syslog+tcp://host:port`, `jsonl:/path`, `journald`,
//! `stdout` ...) and the options of its kind. [`SinkConfig::resolve`] checks
//! it and turns it into a [`Resolved`] sink: the target parsed, each kind
//! carrying only its own options (TLS files only on `syslog+tls://`, spool
//! settings only on the kinds that spool), and what happens when the spool
//! is full a named setting ([`WhenFull`]). The checks and the typed form are
//! one function, so what `config check` accepts is what
//! [`super::build`] builds.
//!
//! This lives in `sinks` (and `config` re-exports it as `config::sinks`) so
//! that `config` depends on `sinks` and not the other way round.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::transport::TlsFiles;
use super::{Net, Target, TargetError};
use crate::report::EventFormat;

/// The `sinks` section of `leakhound.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sinks {
    /// Every output; events go to all of them.
    pub outputs: Vec<SinkConfig>,
}

/// One output, as written.
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
    /// What happens to new events when the spool is at its cap (default
    /// `drop_newest`).
    pub when_full: Option<WhenFull>,
    /// Events held in memory for the sending thread (default 10000).
    pub queue: Option<usize>,
    /// Seconds a finishing scan keeps trying to deliver (default 10).
    pub flush_timeout_s: Option<u64>,
    /// How each event is written (default `json`, leakhound's schema):
    /// `ecs`, `ocsf` or `cef` for a SIEM (`docs/events.md`). For syslog
    /// targets it is the message; journald entries are always `json`.
    pub format: Option<EventFormat>,
}

/// What a spooling sink does with a new event when its spool is at its cap
/// (Vector's `when_full`).
///
/// Vector's default, `block` (backpressure: the producer waits until the
/// sink has room), is not offered: the producer here is a scan or the
/// daemon, and a collector that is down would stop the scan (and every
/// other output, and the exit code a CI job waits for) until it came
/// back. The spool on disk is the buffer; past its cap the gap is counted
/// and reported instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WhenFull {
    /// Drop the new event, count it, and tell the collector where the gap
    /// starts and how many were dropped (`service` events); the run that
    /// dropped events fails at its end. The producer (a scan, the daemon)
    /// never waits for the network.
    #[default]
    DropNewest,
}

impl WhenFull {
    /// The spelling in `leakhound.yaml` and in `--sink ...?when_full=`.
    pub fn parse(s: &str) -> Option<WhenFull> {
        match s {
            "drop_newest" => Some(WhenFull::DropNewest),
            _ => None,
        }
    }
}

/// What `when_full` accepts, said by both refusals (the config file's and
/// `--sink`'s).
const WHEN_FULL_VALUES: &str = "when_full must be drop_newest (`block` is not offered: waiting for a full spool would stop the scan)";

impl<'de> Deserialize<'de> for WhenFull {
    /// By [`WhenFull::parse`], so the file and `--sink` accept the same
    /// words; a refusal names the key (the config error adds the file and
    /// line) and, as the rest of the config module, does not echo the
    /// value.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<WhenFull, D::Error> {
        let s = String::deserialize(d)?;
        WhenFull::parse(&s).ok_or_else(|| serde::de::Error::custom(WHEN_FULL_VALUES))
    }
}

/// Why a sink's configuration cannot be used. Every message names the sink
/// by its target as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkConfigError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("sink {sink}: `{pair}` is not key=value")]
    NotKeyValue { sink: String, pair: String },
    #[error("sink {sink}: {key} must be a whole number, not `{value}`")]
    NotANumber {
        sink: String,
        key: String,
        value: String,
    },
    #[error("sink {sink}: format must be json, ecs, ocsf or cef, not `{value}`")]
    UnknownFormat { sink: String, value: String },
    #[error("sink {sink}: {WHEN_FULL_VALUES}, not `{value}`")]
    UnknownWhenFull { sink: String, value: String },
    #[error(
        "sink {sink}: unknown option `{key}` (known: name, facility, app_name, ca, cert, key, server_name, spool_max_mb, when_full, queue, flush_timeout_s, format)"
    )]
    UnknownOption { sink: String, key: String },
    #[error("sink {sink}: facility `{facility}` is not one of {known}")]
    UnknownFacility {
        sink: String,
        facility: String,
        known: String,
    },
    #[error("sink {sink}: app_name must be 1 to 48 printable ASCII characters without spaces")]
    BadAppName { sink: String },
    #[error(
        "sink {sink}: TLS needs `ca`, the PEM file of the CA that signs the collector's certificate"
    )]
    TlsNeedsCa { sink: String },
    #[error("sink {sink}: ca, cert and key apply only to syslog+tls://")]
    TlsOptionsWithoutTls { sink: String },
    #[error("sink {sink}: a client certificate needs both `cert` and `key`")]
    CertWithoutKey { sink: String },
    #[error(
        "sink {sink}: journald entries are always leakhound's JSON fields; `format` applies to stdout, jsonl: and syslog targets"
    )]
    JournaldFormat { sink: String },
    #[error("sink {sink}: spool_max_mb and queue must be at least 1")]
    ZeroSize { sink: String },
    #[error("sink {sink}: name must be letters, digits, `-`, `_` or `.`")]
    BadName { sink: String },
}

/// A sink's settings once checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The target as written, naming the sink in messages.
    pub to: String,
    /// The spool directory's name (`spool/<name>` under the state dir).
    pub spool_name: String,
    /// How events are written (journald: always leakhound's JSON fields).
    pub format: EventFormat,
    /// Where the events go, with the options of that kind.
    pub kind: Kind,
}

/// Where a resolved sink sends, with only the options of its kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Lines on standard output.
    Stdout,
    /// Lines appended to a file.
    Jsonl { path: PathBuf },
    /// journald's native protocol on this socket.
    Journald {
        socket: PathBuf,
        identity: Identity,
        spool: Spooling,
    },
    /// RFC 5424 syslog.
    Syslog {
        via: Via,
        identity: Identity,
        spool: Spooling,
    },
}

/// How syslog messages travel; TLS carries its files.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    /// A local datagram socket (`/dev/log`).
    Unix(PathBuf),
    Udp(String),
    Tcp(String),
    Tls {
        addr: String,
        files: TlsFiles,
    },
}

/// Who the messages say they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The syslog facility code (16, `local0`, by default).
    pub facility: u8,
    /// Syslog APP-NAME, journald SYSLOG_IDENTIFIER.
    pub app_name: String,
}

/// The spool and queue of a delivering sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spooling {
    /// The spool's cap in bytes.
    pub max_bytes: u64,
    /// What happens at the cap.
    pub when_full: WhenFull,
    /// Events held in memory for the sending thread.
    pub queue: usize,
    /// How long a finishing run keeps trying to deliver.
    pub flush_timeout: Duration,
}

impl SinkConfig {
    /// Parses the command-line form `TARGET[?key=value&key=value]`, where
    /// the keys are this struct's fields (`ca`, `cert`, `facility` ...).
    pub fn from_spec(spec: &str) -> Result<SinkConfig, SinkConfigError> {
        let (to, query) = match spec.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (spec, None),
        };
        let mut c = SinkConfig {
            to: to.to_string(),
            ..SinkConfig::default()
        };
        let sink = || to.to_string();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| SinkConfigError::NotKeyValue {
                    sink: sink(),
                    pair: pair.to_string(),
                })?;
            let num = |v: &str| {
                v.parse::<u64>().map_err(|_| SinkConfigError::NotANumber {
                    sink: sink(),
                    key: k.to_string(),
                    value: v.to_string(),
                })
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
                "when_full" => {
                    c.when_full = Some(WhenFull::parse(v).ok_or_else(|| {
                        SinkConfigError::UnknownWhenFull {
                            sink: sink(),
                            value: v.to_string(),
                        }
                    })?)
                }
                "queue" => c.queue = Some(num(v)? as usize),
                "flush_timeout_s" => c.flush_timeout_s = Some(num(v)?),
                "format" => {
                    c.format = Some(EventFormat::parse(v).ok_or_else(|| {
                        SinkConfigError::UnknownFormat {
                            sink: sink(),
                            value: v.to_string(),
                        }
                    })?)
                }
                _ => {
                    return Err(SinkConfigError::UnknownOption {
                        sink: sink(),
                        key: k.to_string(),
                    });
                }
            }
        }
        c.resolve()?;
        Ok(c)
    }

    /// What is wrong with this output, if anything.
    pub fn problem(&self) -> Option<SinkConfigError> {
        self.resolve().err()
    }

    /// Checks this output and returns it typed: the target parsed and only
    /// the options of its kind, with their defaults filled in.
    pub fn resolve(&self) -> Result<Resolved, SinkConfigError> {
        let target = Target::parse(&self.to)?;
        let sink = || self.to.clone();
        let facility = match &self.facility {
            None => 16,
            Some(f) => {
                super::syslog::facility_code(f).ok_or_else(|| SinkConfigError::UnknownFacility {
                    sink: sink(),
                    facility: f.clone(),
                    known: super::syslog::facility_names(),
                })?
            }
        };
        if let Some(a) = &self.app_name
            && (a.is_empty() || a.len() > 48 || !a.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(SinkConfigError::BadAppName { sink: sink() });
        }
        let is_tls = matches!(target, Target::Syslog(Net::Tls(_)));
        if is_tls && self.ca.is_none() {
            return Err(SinkConfigError::TlsNeedsCa { sink: sink() });
        }
        if !is_tls && (self.ca.is_some() || self.cert.is_some() || self.key.is_some()) {
            return Err(SinkConfigError::TlsOptionsWithoutTls { sink: sink() });
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err(SinkConfigError::CertWithoutKey { sink: sink() });
        }
        if matches!(target, Target::Journald(_))
            && self.format.is_some_and(|f| f != EventFormat::Json)
        {
            return Err(SinkConfigError::JournaldFormat { sink: sink() });
        }
        if self.spool_max_mb == Some(0) || self.queue == Some(0) {
            return Err(SinkConfigError::ZeroSize { sink: sink() });
        }
        if let Some(n) = &self.name
            && (n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(SinkConfigError::BadName { sink: sink() });
        }
        let identity = || Identity {
            facility,
            app_name: self.app_name.clone().unwrap_or_else(|| "leakhound".into()),
        };
        let spool = Spooling {
            max_bytes: self.spool_max_mb.unwrap_or(256).saturating_mul(1 << 20),
            when_full: self.when_full.unwrap_or_default(),
            queue: self.queue.unwrap_or(10_000),
            flush_timeout: Duration::from_secs(self.flush_timeout_s.unwrap_or(10)),
        };
        let syslog = |via| Kind::Syslog {
            via,
            identity: identity(),
            spool,
        };
        let kind = match target {
            Target::Stdout => Kind::Stdout,
            Target::Jsonl(path) => Kind::Jsonl { path },
            Target::Journald(socket) => Kind::Journald {
                socket,
                identity: identity(),
                spool,
            },
            Target::Syslog(Net::Unix(p)) => syslog(Via::Unix(p)),
            Target::Syslog(Net::Udp(a)) => syslog(Via::Udp(a)),
            Target::Syslog(Net::Tcp(a)) => syslog(Via::Tcp(a)),
            Target::Syslog(Net::Tls(addr)) => syslog(Via::Tls {
                addr,
                files: TlsFiles {
                    ca: self.ca.clone().unwrap_or_default(),
                    cert: self.cert.clone(),
                    key: self.key.clone(),
                    server_name: self.server_name.clone(),
                },
            }),
        };
        Ok(Resolved {
            to: self.to.clone(),
            spool_name: super::spool_name(self),
            format: self.format.unwrap_or_default(),
            kind,
        })
    }
}

impl Sinks {
    /// Every problem of the section, each naming its output
    /// (`sinks.outputs[1]: ...`), and spool names two outputs share.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .outputs
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.problem().map(|m| format!("sinks.outputs[{i}]: {m}")))
            .collect();
        let mut names: Vec<String> = self.outputs.iter().map(super::spool_name).collect();
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
        let e = SinkConfig::from_spec("syslog+tls://h:1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs `ca`"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://h:1?facility=nope")
            .unwrap_err()
            .to_string();
        assert!(e.contains("local0"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://h:1?colour=red")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown option `colour`"), "{e}");
        let e = SinkConfig::from_spec("kafka://x").unwrap_err().to_string();
        assert!(e.contains("stdout"), "{e}");
        let e = SinkConfig::from_spec("syslog+tcp://nohost")
            .unwrap_err()
            .to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }

    #[test]
    fn resolved_sinks_carry_only_the_options_of_their_kind() {
        let r = SinkConfig::from_spec(
            "syslog+tls://logs.example:6514?ca=/etc/ca.pem&facility=auth&spool_max_mb=2&when_full=drop_newest",
        )
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(r.spool_name, "syslog-tls-logs.example-6514");
        let Kind::Syslog {
            via: Via::Tls { addr, files },
            identity,
            spool,
        } = r.kind
        else {
            panic!("not a TLS syslog sink: {:?}", r.kind);
        };
        assert_eq!(addr, "logs.example:6514");
        assert_eq!(files.ca, PathBuf::from("/etc/ca.pem"));
        assert_eq!(identity.facility, 4);
        assert_eq!(identity.app_name, "leakhound");
        assert_eq!(spool.max_bytes, 2 << 20);
        assert_eq!(spool.when_full, WhenFull::DropNewest);
        assert_eq!(spool.queue, 10_000);

        let r = SinkConfig::from_spec("jsonl:/var/log/x.jsonl?format=ecs")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(
            r.kind,
            Kind::Jsonl {
                path: "/var/log/x.jsonl".into()
            }
        );
        assert_eq!(r.format, EventFormat::Ecs);

        let e = SinkConfig::from_spec("syslog?when_full=block")
            .unwrap_err()
            .to_string();
        assert!(e.contains("when_full must be drop_newest"), "{e}");
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
        let c = crate::config::Config::parse(
            std::path::Path::new("t.yaml"),
            "sinks:\n  outputs:\n    - to: syslog\n      when_full: drop_newest\n",
        )
        .unwrap();
        assert_eq!(c.sinks.outputs[0].when_full, Some(WhenFull::DropNewest));
    }
}
