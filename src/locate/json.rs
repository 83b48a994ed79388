//! JSON and JSON lines: the path of the value each offset falls in.
//!
//! A tokenizer that knows only what a path needs: strings (with escapes),
//! the brackets, `:` and `,`. It keeps a stack of frames (an object with
//! its current key, an array with its current index), so memory is the
//! nesting depth times the key length, capped. Malformed input does not
//! stop it; the path is then a best effort.

use super::{Machine, Pending, risky_name};
use crate::report::event::DataLocation;

/// Longest key kept, in bytes.
const MAX_KEY: usize = 256;
/// Deepest nesting tracked; a deeper value gets the path of its ancestor at this depth.
const MAX_DEPTH: usize = 256;

enum Frame {
    Object {
        key: Option<Vec<u8>>,
        want_key: bool,
    },
    Array {
        index: u64,
    },
}

pub(super) struct Json {
    lines: bool,
    stack: Vec<Frame>,
    /// Frames beyond MAX_DEPTH, counted but not kept.
    overflow: usize,
    in_string: bool,
    escaped: bool,
    /// The string being read is an object key.
    string_is_key: bool,
    key: Vec<u8>,
    row: u64,
}

impl Json {
    pub(super) fn new(lines: bool) -> Json {
        Json {
            lines,
            stack: Vec::new(),
            overflow: 0,
            in_string: false,
            escaped: false,
            string_is_key: false,
            key: Vec::new(),
            row: 1,
        }
    }

    fn push(&mut self, f: Frame) {
        if self.stack.len() < MAX_DEPTH {
            self.stack.push(f);
        } else {
            self.overflow += 1;
        }
    }

    fn pop(&mut self) {
        if self.overflow > 0 {
            self.overflow -= 1;
        } else {
            self.stack.pop();
        }
    }

    fn path(&self) -> String {
        let mut p = String::from("$");
        for f in &self.stack {
            match f {
                Frame::Array { index } => p.push_str(&format!("[{index}]")),
                Frame::Object { key: Some(k), .. } => push_key(&mut p, k),
                Frame::Object { key: None, .. } => {}
            }
        }
        p
    }
}

/// `.name` for identifiers, `['any key']` otherwise, `[*]` for a key that
/// could hold a number we look for.
fn push_key(p: &mut String, raw: &[u8]) {
    let k = String::from_utf8_lossy(raw);
    if risky_name(&k) {
        p.push_str("[*]");
    } else if !k.is_empty()
        && k.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit())
    {
        p.push('.');
        p.push_str(&k);
    } else {
        p.push_str("['");
        p.push_str(&k.replace('\\', "\\\\").replace('\'', "\\'"));
        p.push_str("']");
    }
}

/// Bytes that matter outside strings (a newline only in JSON lines).
const STRUCTURAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 7 {
        t[b"\"{}[],\n"[i] as usize] = true;
        i += 1;
    }
    t
};

impl Machine for Json {
    fn skippable(&self, bytes: &[u8]) -> usize {
        if self.in_string {
            if self.escaped || self.string_is_key {
                return 0;
            }
            return memchr::memchr2(b'"', b'\\', bytes).unwrap_or(bytes.len());
        }
        bytes
            .iter()
            .position(|&b| STRUCTURAL[b as usize])
            .unwrap_or(bytes.len())
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.string_is_key {
                    let key = std::mem::take(&mut self.key);
                    if let Some(Frame::Object { key: k, want_key }) = self.stack.last_mut() {
                        *k = Some(key);
                        *want_key = false;
                    }
                }
                return;
            }
            if self.string_is_key && self.key.len() < MAX_KEY {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                self.string_is_key = matches!(
                    self.stack.last(),
                    Some(Frame::Object { want_key: true, .. })
                ) && self.overflow == 0;
                self.key.clear();
            }
            b'{' => self.push(Frame::Object {
                key: None,
                want_key: true,
            }),
            b'[' => self.push(Frame::Array { index: 0 }),
            b'}' | b']' => self.pop(),
            b',' if self.overflow == 0 => match self.stack.last_mut() {
                Some(Frame::Object { key, want_key }) => {
                    *key = None;
                    *want_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            b'\n' if self.lines => {
                self.row += 1;
                // A line is a document: whatever was left open is dropped.
                self.stack.clear();
                self.overflow = 0;
            }
            _ => {}
        }
    }

    fn mark(&mut self) -> Pending {
        Pending::Json {
            row: self.lines.then_some(self.row),
            path: self.path(),
        }
    }

    fn resolve(&self, marks: Vec<Option<Pending>>) -> Vec<Option<DataLocation>> {
        marks
            .into_iter()
            .map(|m| match m? {
                Pending::Json { row, path } => Some(DataLocation {
                    row,
                    field: None,
                    column_name: None,
                    json_path: Some(path),
                }),
                Pending::Table { .. } => None,
            })
            .collect()
    }
}
