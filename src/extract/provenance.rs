//! Where a leaf or a problem is inside a top-level file, as data: a
//! [`Member`] is the path of [`Step`]s from the outside in (a zip entry, a
//! mail part, a page, a base64 payload ...).
//!
//! Extraction builds members step by step and every layer below it (the
//! scan's leaf sink, the name scan, the container's status) matches on the
//! steps. A member becomes text only at the report edge, where the events
//! are made: [`Member`]'s `Display` writes the steps outermost first,
//! joined with `!`, exactly the string leakhound has always reported
//! (`a.zip!b.tar!c.csv`, `msg 2 <id>!attachment x.pdf!page 3`,
//! `data.csv!base64@120`). Events, SARIF, the HTML report, the state
//! database, baselines and quarantine manifests keep that string.
//!
//! A step's text never holds `!`: names from the data are cleaned when
//! their step is made ([`super::clean_name`] writes `!` as `_`), and the
//! labels leakhound makes hold none. So the string splits back into the
//! same steps, and a name scan over the steps sees what a split on `!` saw.

use std::borrow::Cow;
use std::fmt;

/// One gzip header field scanned as text (RFC 1952).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GzipField {
    Fname,
    Fcomment,
    Fextra,
}

impl GzipField {
    /// The step's text: `gzip header FNAME`.
    pub fn label(self) -> &'static str {
        match self {
            GzipField::Fname => super::GZIP_FNAME,
            GzipField::Fcomment => super::GZIP_FCOMMENT,
            GzipField::Fextra => super::GZIP_FEXTRA,
        }
    }
}

/// One place inside a container. Each variant writes the text it has
/// always been reported as (see each variant); names from the data are
/// already cleaned ([`super::clean_name`]) when the step is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// A member a container names: a zip, tar or 7z entry, a compound
    /// file's storage path (`ObjectPool/_1/Package`), an OOXML part.
    Entry(String),
    /// A gzip header field: `gzip header FNAME`.
    GzipHeader(GzipField),
    /// The Nth message of an mbox (from 1), with its Message-ID when it
    /// has one: `msg 3`, `msg 3 <id@host>`.
    MboxMessage { index: u64, id: Option<String> },
    /// A message by its Message-ID: `<id@host>`, or `message` without one.
    Message { id: Option<String> },
    /// A message's header block: `headers`.
    Headers,
    /// A Subject in RFC 2047 encoded words, decoded: `header Subject`.
    Subject,
    /// A MIME part without a file name: `part 2 text/html`.
    Part { index: usize, ctype: String },
    /// A MIME part with a file name: `attachment NAME`.
    Attachment(String),
    /// The Nth attachment of an Outlook `.msg` (from 1), with its file
    /// name when it has one: `attachment 2 x.pdf`, `attachment 2`.
    MsgAttachment { index: usize, name: Option<String> },
    /// An embedded object of an RTF document (from 1): `object 2`.
    Object(usize),
    /// A PNG text chunk: `png tEXt 1`.
    PngText { chunk: String, index: u64 },
    /// The Nth part the confined helper extracted (from 1): `page 4`,
    /// `ocr page 2`, `file 1`, `note 3`; `unit` is the helper's word for
    /// its parts ([`super::helper`]).
    Page { unit: &'static str, index: u64 },
    /// A Parquet cell, by its column's name and its row (from 1):
    /// `column card_number row 17`.
    Cell { column: String, row: u64 },
    /// A base64 payload starting at byte OFFSET of its leaf, decoded and
    /// scanned: `base64@120`.
    Base64 { offset: u64 },
    /// A place that has no better shape yet, kept as its text: the labels
    /// a confined helper writes on its pipe that are not a [`Step::Cell`]
    /// (a PST message's folder, subject and part), an Outlook message's
    /// own parts (`body rtf`, `subject`).
    Named(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Entry(name) | Step::Named(name) => f.write_str(name),
            Step::GzipHeader(field) => f.write_str(field.label()),
            Step::MboxMessage { index, id: None } => write!(f, "msg {index}"),
            Step::MboxMessage {
                index,
                id: Some(id),
            } => write!(f, "msg {index} <{id}>"),
            Step::Message { id: Some(id) } => write!(f, "<{id}>"),
            Step::Message { id: None } => f.write_str("message"),
            Step::Headers => f.write_str("headers"),
            Step::Subject => f.write_str("header Subject"),
            Step::Part { index, ctype } => write!(f, "part {index} {ctype}"),
            Step::Attachment(name) => write!(f, "attachment {name}"),
            Step::MsgAttachment { index, name: None } => write!(f, "attachment {index}"),
            Step::MsgAttachment {
                index,
                name: Some(name),
            } => write!(f, "attachment {index} {name}"),
            Step::Object(index) => write!(f, "object {index}"),
            Step::PngText { chunk, index } => write!(f, "png {chunk} {index}"),
            Step::Page { unit, index } => write!(f, "{unit} {index}"),
            Step::Cell { column, row } => write!(f, "column {column} row {row}"),
            Step::Base64 { offset } => write!(f, "base64@{offset}"),
        }
    }
}

impl Step {
    /// The name someone gave, if this step is one: an archive member's
    /// name, an attachment's file name. The labels leakhound makes for the
    /// parts it walks (messages and their Message-IDs, parts, headers,
    /// pages, PNG chunks, helper parts) are not names: a Message-ID is a
    /// machine's serial number, and reporting the digits in it as an SSN
    /// would be noise. They are still masked wherever they are written.
    ///
    /// A step kept as text ([`Step::Entry`], [`Step::Named`]) is judged by
    /// its text as before steps were typed: one that reads like a label
    /// (`msg `, `<`, `part `, `page `, `png `, `header`, `ocr page `,
    /// `column `) is not a name, and `attachment NAME` names `NAME`. So a
    /// zip entry called `page 4929....txt` is still not scanned as a name,
    /// exactly as before.
    pub fn given_name(&self) -> Option<Cow<'_, str>> {
        match self {
            Step::Entry(text) | Step::Named(text) => legacy_given_name(text).map(Cow::Borrowed),
            Step::Attachment(name) => Some(Cow::Borrowed(name)),
            // `attachment 2 x.pdf` was judged by its text: `2 x.pdf`.
            Step::MsgAttachment { index, name } => Some(match name {
                Some(name) => Cow::Owned(format!("{index} {name}")),
                None => Cow::Owned(index.to_string()),
            }),
            // Labels. Some of them (`message`, `object 2`, `note 3`, `gzip
            // header FNAME`) were once scanned as names by their text; they
            // hold no number a rule could find (a part's index is far
            // shorter than any), so not scanning them changes no result.
            Step::GzipHeader(_)
            | Step::MboxMessage { .. }
            | Step::Message { .. }
            | Step::Headers
            | Step::Subject
            | Step::Part { .. }
            | Step::Object(_)
            | Step::PngText { .. }
            | Step::Page { .. }
            | Step::Cell { .. }
            | Step::Base64 { .. } => None,
        }
    }

    /// The step a confined helper names on its pipe (`label`, already
    /// cleaned): a [`Step::Cell`] when it reads `column NAME row N` and
    /// writes back as the same text, else kept as it is ([`Step::Named`]).
    /// A label cut short by cleaning (`column very long…`) stays text.
    pub fn from_helper_label(label: String) -> Step {
        let cell = label
            .strip_prefix("column ")
            .and_then(|rest| rest.rsplit_once(" row "))
            .and_then(|(column, row)| {
                Some(Step::Cell {
                    column: column.to_string(),
                    row: row.parse().ok()?,
                })
            });
        match cell {
            Some(cell) if cell.to_string() == label => cell,
            _ => Step::Named(label),
        }
    }
}

/// The name in a step known only by its text (see [`Step::given_name`]).
fn legacy_given_name(segment: &str) -> Option<&str> {
    if let Some(file) = segment.strip_prefix("attachment ") {
        return Some(file);
    }
    let label = [
        "msg ",
        "<",
        "part ",
        "page ",
        "png ",
        "header",
        "ocr page ",
        "column ",
    ]
    .iter()
    .any(|p| segment.starts_with(p));
    (!label).then_some(segment)
}

/// Where something is inside a top-level file: its steps, outermost first.
/// Never empty where it is used: the top-level file itself is `None` in an
/// `Option<Member>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Member(Vec<Step>);

impl Member {
    /// A member of one step.
    pub fn new(step: Step) -> Member {
        Member(vec![step])
    }

    /// `parent` (none: the top-level file) with `step` inside it.
    pub fn join(parent: Option<&Member>, step: Step) -> Member {
        let mut steps = Vec::with_capacity(parent.map_or(0, |p| p.0.len()) + 1);
        if let Some(p) = parent {
            steps.extend(p.0.iter().cloned());
        }
        steps.push(step);
        Member(steps)
    }

    /// This member with `steps` inside it.
    pub fn then(&self, steps: impl IntoIterator<Item = Step>) -> Member {
        let mut out = self.clone();
        out.0.extend(steps);
        out
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// The member made of the first `n` steps (the containers on the way
    /// to this one).
    pub fn prefix(&self, n: usize) -> Member {
        Member(self.0[..n.min(self.0.len())].to_vec())
    }

    /// Parses a member as it is written in reports (`a.zip!b.csv`): one
    /// step per `!`-separated segment, each kept as its text
    /// ([`Step::Named`]); `Display` writes it back byte for byte. For a
    /// member string that comes back from outside (a stored row, a
    /// baseline), where the kind of each step is not known.
    pub fn parse(text: &str) -> Member {
        Member(
            text.split('!')
                .map(|s| Step::Named(s.to_string()))
                .collect(),
        )
    }
}

/// A member is looked up by its steps (the containers on the way to a
/// leaf, without making each one a `Member`). `Member`'s derived `Hash` is
/// its `Vec`'s, which is the slice's, as `Borrow` requires.
impl std::borrow::Borrow<[Step]> for Member {
    fn borrow(&self) -> &[Step] {
        &self.0
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("!")?;
            }
            fmt::Display::fmt(step, f)?;
        }
        Ok(())
    }
}

/// The report form of an optional member: `None` is the top-level file.
pub fn to_report(member: Option<&Member>) -> Option<String> {
    member.map(Member::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step writes the text it was reported as when members were
    /// `!`-joined strings.
    #[test]
    fn every_step_displays_as_todays_member_text() {
        let cases: Vec<(Step, &str)> = vec![
            (Step::Entry("dir/a.csv".into()), "dir/a.csv"),
            (Step::GzipHeader(GzipField::Fname), "gzip header FNAME"),
            (
                Step::GzipHeader(GzipField::Fcomment),
                "gzip header FCOMMENT",
            ),
            (Step::GzipHeader(GzipField::Fextra), "gzip header FEXTRA"),
            (Step::MboxMessage { index: 3, id: None }, "msg 3"),
            (
                Step::MboxMessage {
                    index: 3,
                    id: Some("a@b".into()),
                },
                "msg 3 <a@b>",
            ),
            (
                Step::Message {
                    id: Some("a@b".into()),
                },
                "<a@b>",
            ),
            (Step::Message { id: None }, "message"),
            (Step::Headers, "headers"),
            (Step::Subject, "header Subject"),
            (
                Step::Part {
                    index: 2,
                    ctype: "text/html".into(),
                },
                "part 2 text/html",
            ),
            (Step::Attachment("x.pdf".into()), "attachment x.pdf"),
            (
                Step::MsgAttachment {
                    index: 2,
                    name: Some("x.pdf".into()),
                },
                "attachment 2 x.pdf",
            ),
            (
                Step::MsgAttachment {
                    index: 2,
                    name: None,
                },
                "attachment 2",
            ),
            (Step::Object(4), "object 4"),
            (
                Step::PngText {
                    chunk: "tEXt".into(),
                    index: 1,
                },
                "png tEXt 1",
            ),
            (
                Step::Page {
                    unit: "page",
                    index: 4,
                },
                "page 4",
            ),
            (
                Step::Page {
                    unit: "ocr page",
                    index: 2,
                },
                "ocr page 2",
            ),
            (
                Step::Cell {
                    column: "card".into(),
                    row: 17,
                },
                "column card row 17",
            ),
            (Step::Base64 { offset: 120 }, "base64@120"),
            (
                Step::Named("column card row 17".into()),
                "column card row 17",
            ),
        ];
        for (step, want) in cases {
            assert_eq!(step.to_string(), want, "{step:?}");
        }
    }

    #[test]
    fn a_member_is_its_steps_joined_with_bang() {
        let zip = Member::new(Step::Entry("a.zip".into()));
        let leaf = Member::join(Some(&zip), Step::Entry("b.csv".into()));
        assert_eq!(leaf.to_string(), "a.zip!b.csv");
        let b64 = Member::join(Some(&leaf), Step::Base64 { offset: 7 });
        assert_eq!(b64.to_string(), "a.zip!b.csv!base64@7");
        assert_eq!(Member::join(None, Step::Headers).to_string(), "headers");
        assert_eq!(b64.prefix(1), zip);
        assert_eq!(to_report(None), None);
        assert_eq!(to_report(Some(&zip)).as_deref(), Some("a.zip"));
    }

    /// A stored member string parses into steps that write it back byte
    /// for byte, whatever it holds.
    #[test]
    fn a_parsed_member_writes_back_the_same_text() {
        for text in [
            "a.zip",
            "a.zip!b.tar!c.csv",
            "msg 2 <x@y>!attachment r.pdf!page 3",
            "d.csv!base64@120",
            "",
            "!",
            "a!!b",
        ] {
            assert_eq!(Member::parse(text).to_string(), text);
        }
        assert_eq!(Member::parse("a!b").steps().len(), 2);
    }

    /// The typed answer to "is this a name?" is the one the step's text
    /// got when members were split on `!`, but for labels the text called
    /// names that hold no number but their index (listed here).
    #[test]
    fn typed_given_names_agree_with_the_text_they_write() {
        let steps = [
            Step::Entry("a 4929.csv".into()),
            Step::Entry("msg 1.txt".into()),
            Step::Named("subject".into()),
            Step::MboxMessage {
                index: 2,
                id: Some("x@y".into()),
            },
            Step::Message {
                id: Some("x".into()),
            },
            Step::Headers,
            Step::Subject,
            Step::Part {
                index: 1,
                ctype: "text/plain".into(),
            },
            Step::Attachment("1234.pdf".into()),
            Step::MsgAttachment {
                index: 1,
                name: Some("1234.pdf".into()),
            },
            Step::MsgAttachment {
                index: 1,
                name: None,
            },
            Step::PngText {
                chunk: "tEXt".into(),
                index: 1,
            },
            Step::Page {
                unit: "page",
                index: 3,
            },
            Step::Page {
                unit: "ocr page",
                index: 3,
            },
            Step::Cell {
                column: "c".into(),
                row: 3,
            },
        ];
        for step in steps {
            let text = step.to_string();
            assert_eq!(
                step.given_name().as_deref(),
                legacy_given_name(&text),
                "{text}"
            );
        }
        // Labels whose text was scanned as a name: nothing in it but an
        // index or a fixed word.
        let differ = [
            Step::Message { id: None },
            Step::GzipHeader(GzipField::Fname),
            Step::Object(2),
            Step::Page {
                unit: "note",
                index: 2,
            },
            Step::Page {
                unit: "file",
                index: 2,
            },
            Step::Base64 { offset: 5 },
        ];
        for step in differ {
            assert_eq!(step.given_name(), None);
            let text = step.to_string();
            let legacy = legacy_given_name(&text).expect("scanned as a name by its text");
            assert!(
                legacy.bytes().filter(u8::is_ascii_digit).count() < 4,
                "{text}"
            );
        }
    }

    /// A helper's label becomes a cell only when the cell writes back the
    /// same text; anything else is kept as it came.
    #[test]
    fn helper_labels_round_trip_through_their_steps() {
        for label in [
            "column card_number row 17",
            "column a row b row 2",
            "column  row 1",
            "column x row 007",
            "column x row -1",
            "column x row",
            "column very long…",
            "Inbox",
            "message 3 nid 0x200024",
            "attachment a.pdf",
        ] {
            assert_eq!(Step::from_helper_label(label.into()).to_string(), label);
        }
        assert_eq!(
            Step::from_helper_label("column a row b row 2".into()),
            Step::Cell {
                column: "a row b".into(),
                row: 2
            }
        );
        assert!(matches!(
            Step::from_helper_label("column x row 007".into()),
            Step::Named(_)
        ));
        assert!(matches!(
            Step::from_helper_label("Inbox".into()),
            Step::Named(_)
        ));
    }

    /// What is a name follows what the `!`-split text said before steps
    /// were typed.
    #[test]
    fn given_names_follow_the_labels() {
        let name = |s: Step| s.given_name().map(|n| n.into_owned());
        assert_eq!(name(Step::Entry("a.csv".into())).as_deref(), Some("a.csv"));
        // An entry that reads like a label is not scanned as a name.
        assert_eq!(name(Step::Entry("page 4.txt".into())), None);
        assert_eq!(
            name(Step::Named("attachment 5.pdf".into())).as_deref(),
            Some("5.pdf")
        );
        assert_eq!(name(Step::Named("column c row 2".into())), None);
        assert_eq!(
            name(Step::Attachment("x.pdf".into())).as_deref(),
            Some("x.pdf")
        );
        assert_eq!(
            name(Step::MsgAttachment {
                index: 2,
                name: Some("x.pdf".into())
            })
            .as_deref(),
            Some("2 x.pdf")
        );
        assert_eq!(name(Step::MboxMessage { index: 1, id: None }), None);
        assert_eq!(
            name(Step::Page {
                unit: "page",
                index: 1
            }),
            None
        );
        assert_eq!(name(Step::Base64 { offset: 1 }), None);
    }
}
