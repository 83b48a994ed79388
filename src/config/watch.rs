//! What `leakhound watch` follows and how (inotify or polling).
//!
//! The `watch` section names the roots the daemon guards, what each one
//! holds (plain files, Maildir folders, mbox files), which files in it
//! count, how changes are noticed, and how the pipeline is sized. The
//! daemon in `src/watch/` turns this section into running parts; this file
//! only reads and checks it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::Section;
use crate::inputs::PathFilter;

/// The `watch` section of `leakhound.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watch {
    /// The directories (or mbox files) to guard.
    pub roots: Vec<Root>,
    /// A file is scanned once its size and modification time have not
    /// changed for this long.
    #[serde(deserialize_with = "duration")]
    pub settle: Duration,
    /// A file that keeps changing is scanned anyway once it has waited this
    /// long (and again when it settles): a log written every second is
    /// never quiet for `settle`.
    #[serde(deserialize_with = "duration")]
    pub max_settle: Duration,
    /// What a walk of a root (at start-up, on overflow, periodically)
    /// trusts: `quick` trusts a row whose size, mtime, ctime and inode
    /// generation match; `verify` reads such files too and compares a keyed
    /// MAC of their content.
    pub rescan: RescanMode,
    /// Walk every root in `verify` mode this often (unset: never; only
    /// start-up follows `rescan`).
    #[serde(deserialize_with = "opt_duration")]
    pub verify_interval: Option<Duration>,
    /// A failed action (quarantine on a full disk ...) is tried again after
    /// this long, doubling at each failure up to `action_retry_max`.
    #[serde(deserialize_with = "duration")]
    pub action_retry: Duration,
    #[serde(deserialize_with = "duration")]
    pub action_retry_max: Duration,
    /// Scanning threads; 0 means one per CPU.
    pub threads: usize,
    /// Files waiting for their scan, per scanning thread, before the
    /// watcher holds new ones back.
    pub queue: usize,
    /// Files noticed but not yet settled, over all roots. Past this, the
    /// daemon forgets them and rescans the root instead: memory stays
    /// bounded and nothing is missed.
    pub max_pending: usize,
    /// Rule files to use instead of the built-in ones.
    pub rules_dir: Option<PathBuf>,
    /// The rule packs to use; empty: the `default` pack (docs/rules.md,
    /// "Rule packs").
    pub rules_packs: Vec<String>,
    /// The fingerprint key file (else `LEAKHOUND_FINGERPRINT_KEY`, else the
    /// key kept in the state directory).
    pub fingerprint_key_file: Option<PathBuf>,
    /// Where events go as JSON lines until the `sinks` section is wired:
    /// a file (appended, reopened on reload), or standard output if unset.
    pub events_file: Option<PathBuf>,
    /// Also report files that were scanned and held nothing (`file` events
    /// with status `scanned`); by default only findings and files that
    /// could not be fully scanned are reported.
    pub report_scanned: bool,
    /// Findings below this confidence are left out (default medium, as
    /// `scan`: a bare number with no evidence around it is not sent to the
    /// central log).
    pub min_confidence: ConfidenceName,
    /// How often `status.json` and systemd's STATUS= are refreshed.
    #[serde(deserialize_with = "duration")]
    pub status_interval: Duration,
    /// Serve the status counters in the Prometheus text format on
    /// `http://ADDR/metrics` (loopback addresses only: the endpoint has no
    /// authentication). Unset: no endpoint.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl Default for Watch {
    fn default() -> Watch {
        Watch {
            roots: Vec::new(),
            settle: Duration::from_secs(1),
            max_settle: Duration::from_secs(30),
            rescan: RescanMode::Quick,
            verify_interval: None,
            action_retry: Duration::from_secs(30),
            action_retry_max: Duration::from_secs(3600),
            threads: 0,
            queue: 256,
            max_pending: 100_000,
            rules_dir: None,
            rules_packs: Vec::new(),
            fingerprint_key_file: None,
            events_file: None,
            report_scanned: false,
            min_confidence: ConfidenceName::Medium,
            status_interval: Duration::from_secs(2),
            metrics_listen: None,
        }
    }
}

/// What a walk trusts in the state database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RescanMode {
    /// Size, mtime, ctime and inode generation.
    #[default]
    Quick,
    /// Those, and a keyed MAC of the content (every file is read).
    Verify,
}

/// `low`, `medium` or `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfidenceName {
    Low,
    Medium,
    High,
}

impl ConfidenceName {
    pub fn level(self) -> crate::rules::Confidence {
        use crate::rules::Confidence;
        match self {
            ConfidenceName::Low => Confidence::Low,
            ConfidenceName::Medium => Confidence::Medium,
            ConfidenceName::High => Confidence::High,
        }
    }
}

/// One watched root.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// A directory; for `kind: mbox`, an mbox file or a directory of them.
    pub path: PathBuf,
    /// What the root holds.
    #[serde(default)]
    pub kind: RootKind,
    /// Scan only files matching these globs (a glob without `/` matches
    /// file names anywhere; with `/`, paths under the root).
    #[serde(default)]
    pub include: Vec<String>,
    /// Leave out files and directories matching these globs.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// How changes are noticed.
    #[serde(default)]
    pub mode: Mode,
    /// How often a polled root is walked.
    #[serde(default = "default_poll_interval", deserialize_with = "duration")]
    pub poll_interval: Duration,
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(30)
}

/// What a root holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    /// Any files: each is scanned whole when it changes.
    #[default]
    Files,
    /// Maildir folders: messages in `new/` and `cur/` (never `tmp/`, where
    /// messages are still being delivered).
    Maildir,
    /// mbox files: only what was appended since the last scan is scanned.
    Mbox,
}

/// How changes under a root are noticed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// inotify, except on network filesystems (NFS, CIFS/SMB, FUSE, Ceph,
    /// 9p), which are polled because inotify does not see other clients'
    /// changes there.
    #[default]
    Auto,
    /// inotify.
    Inotify,
    /// Walk the root every `poll_interval`.
    Poll,
}

/// Reads a duration written as `2s`, `500ms`, `1m 30s` (humantime).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({e}); write it like 2s, 500ms or 1m"
        ))
    })
}

/// An optional duration (`verify_interval: 24h`).
fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

impl Section for Watch {
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.settle > Duration::from_secs(3600) {
            p.push("watch.settle must be at most 1h".to_string());
        }
        if self.max_settle < self.settle {
            p.push("watch.max_settle must be at least watch.settle".to_string());
        }
        if self.action_retry < Duration::from_millis(100) {
            p.push("watch.action_retry must be at least 100ms".to_string());
        }
        if self.action_retry_max < self.action_retry {
            p.push("watch.action_retry_max must be at least watch.action_retry".to_string());
        }
        if self
            .verify_interval
            .is_some_and(|v| v < Duration::from_secs(1))
        {
            p.push("watch.verify_interval must be at least 1s".to_string());
        }
        if self.queue == 0 {
            p.push("watch.queue must be at least 1".to_string());
        }
        if self.max_pending < 16 {
            p.push("watch.max_pending must be at least 16".to_string());
        }
        if self.status_interval < Duration::from_millis(100) {
            p.push("watch.status_interval must be at least 100ms".to_string());
        }
        if let Some(addr) = self.metrics_listen
            && !addr.ip().is_loopback()
        {
            p.push(format!(
                "watch.metrics_listen ({addr}) must be a loopback address such as 127.0.0.1:9477 or [::1]:9477: the endpoint has no authentication (put a reverse proxy in front to expose it)"
            ));
        }
        for (i, root) in self.roots.iter().enumerate() {
            let name = format!("watch.roots[{i}] ({})", root.path.display());
            if !root.path.is_absolute() {
                p.push(format!(
                    "{name}: path must be absolute (the daemon's working directory is /)"
                ));
            }
            if root.poll_interval < Duration::from_millis(100) {
                p.push(format!("{name}: poll_interval must be at least 100ms"));
            }
            if let Err(e) = PathFilter::new(&root.include, &root.exclude) {
                p.push(format!("{name}: {e}"));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    #[test]
    fn a_full_watch_section_parses() {
        let text = "\
watch:
  roots:
    - path: /srv/share
      exclude: ['*.iso']
    - path: /var/mail
      kind: mbox
      mode: poll
      poll_interval: 10s
  settle: 500ms
  threads: 2
";
        let c = Config::parse(Path::new("t.yaml"), text).unwrap();
        let w = &c.watch;
        assert_eq!(w.roots.len(), 2);
        assert_eq!(w.roots[0].kind, RootKind::Files);
        assert_eq!(w.roots[0].mode, Mode::Auto);
        assert_eq!(w.roots[1].kind, RootKind::Mbox);
        assert_eq!(w.roots[1].poll_interval, Duration::from_secs(10));
        assert_eq!(w.settle, Duration::from_millis(500));
        assert_eq!(w.max_settle, Duration::from_secs(30));
        assert_eq!(w.rescan, RescanMode::Quick);
        assert_eq!(w.verify_interval, None);
        assert_eq!(w.action_retry, Duration::from_secs(30));
        assert_eq!(w.action_retry_max, Duration::from_secs(3600));
    }

    #[test]
    fn the_hardening_settings_parse_and_are_checked() {
        let text = "watch:\n  roots: []\n  settle: 1s\n  max_settle: 3s\n  rescan: verify\n  verify_interval: 1h\n  action_retry: 1s\n  action_retry_max: 4s\n";
        let w = Config::parse(Path::new("t.yaml"), text).unwrap().watch;
        assert_eq!(w.max_settle, Duration::from_secs(3));
        assert_eq!(w.rescan, RescanMode::Verify);
        assert_eq!(w.verify_interval, Some(Duration::from_secs(3600)));
        assert_eq!(w.action_retry_max, Duration::from_secs(4));
        let bad = "watch:\n  roots: []\n  settle: 5s\n  max_settle: 1s\n";
        let e = Config::parse(Path::new("t.yaml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_settle"), "{e}");
        let bad = "watch:\n  roots: []\n  rescan: sometimes\n";
        assert!(Config::parse(Path::new("t.yaml"), bad).is_err());
    }

    #[test]
    fn a_bad_duration_names_its_line() {
        let text = "watch:\n  roots: []\n  settle: soon\n";
        let e = Config::parse(Path::new("t.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:3"), "{e}");
        assert!(e.contains("not a duration"), "{e}");
    }

    #[test]
    fn relative_roots_and_bad_globs_are_problems() {
        let text = "watch:\n  roots:\n    - path: share\n      exclude: ['a[']\n";
        let e = Config::parse(Path::new("t.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be absolute"), "{e}");
        assert!(e.contains("bad glob"), "{e}");
    }

    #[test]
    fn metrics_listen_must_be_loopback() {
        let ok = "watch:\n  roots: []\n  metrics_listen: 127.0.0.1:9477\n";
        let c = Config::parse(Path::new("t.yaml"), ok).unwrap();
        assert_eq!(
            c.watch.metrics_listen,
            Some("127.0.0.1:9477".parse().unwrap())
        );
        let v6 = "watch:\n  roots: []\n  metrics_listen: '[::1]:9477'\n";
        assert!(Config::parse(Path::new("t.yaml"), v6).is_ok());
        let bad = "watch:\n  roots: []\n  metrics_listen: 0.0.0.0:9477\n";
        let e = Config::parse(Path::new("t.yaml"), bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback"), "{e}");
        let junk = "watch:\n  roots: []\n  metrics_listen: localhost\n";
        let e = Config::parse(Path::new("t.yaml"), junk)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:3"), "{e}");
    }

    #[test]
    fn an_unknown_root_kind_names_its_line() {
        let text = "watch:\n  roots:\n    - path: /x\n      kind: pst\n";
        let e = Config::parse(Path::new("t.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:4"), "{e}");
    }
}
