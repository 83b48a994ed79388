//! OCR: the text in an image's pixels, as the helper's parts (one per page
//! of a multi-page TIFF), read by Tesseract.
//!
//! Runs only inside the confined helper (`leakhound __extract ocr`, see
//! [`super`]). The helper does not link Tesseract: it runs the `tesseract`
//! program as its own child, with the image on a pipe and the text back on
//! another, so that
//!
//! - a hostile image that crashes Leptonica or Tesseract kills only that
//!   process, under the helper's limits, which it inherits (address space,
//!   CPU time, no core dump, no file written, no capability); it also dies
//!   with the helper (`PR_SET_PDEATHSIG`) and is killed at the OCR time
//!   limit (`--ocr-timeout`);
//! - leakhound runs, builds and is packaged without Tesseract (no C++
//!   library, no bindgen at build time), and an image is then reported
//!   `partial: no OCR engine`, never clean;
//! - only a program at a fixed path is run (`/usr/bin/tesseract`, or
//!   `/usr/local/bin/tesseract`, or the `LEAKHOUND_TESSERACT` the scanner
//!   was started with): a daemon running as root never runs whatever
//!   `tesseract` comes first in a `PATH`.
//!
//! Tesseract runs with page segmentation mode 1 (automatic, with
//! orientation detection: a page scanned sideways is read), the LSTM
//! engine, one thread. Its output (pages ended by form feeds, as this
//! protocol's parts are) is passed on page by page. After a page's text,
//! the lines in which OCR's usual confusions sit inside a run of digits
//! (`O`/`o`/`D` read for `0`, `l`/`I`/`|` for `1`, `S` for `5`, `B` for
//! `8`, and `/` for `7` in a run of at least twelve digits) are written
//! again with those letters read as digits
//! ([`fix_digit_runs`]); the engine's validators then decide whether a
//! number is there. A word is touched only when it holds a real digit and
//! nothing but digits, separators and such letters, so words, names and
//! IBAN country codes are left as they are.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{FailedParts, PART_END, Unreadable};

/// Where `tesseract` is looked for, in order, when `LEAKHOUND_TESSERACT`
/// does not name it.
pub const ENGINE_PATHS: &[&str] = &["/usr/bin/tesseract", "/usr/local/bin/tesseract"];

/// The environment variable that names the OCR program (a path; empty: no
/// OCR engine).
pub const ENGINE_ENV: &str = "LEAKHOUND_TESSERACT";

/// Text read back from Tesseract at most, over all pages of one image.
const MAX_OUTPUT: u64 = 16 << 20;

/// Whether and how images are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OcrMode {
    /// OCR when Tesseract is installed; without it an image is `partial`.
    #[default]
    Auto,
    /// No OCR: an image's pixels are not read, and it is `partial`.
    Off,
    /// OCR required: the scan refuses to start without Tesseract.
    On,
}

/// How OCR runs, for the whole process: set once from the command line
/// ([`set_settings`]); the defaults otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrSettings {
    pub mode: OcrMode,
    /// Wall-clock time for the OCR of one image or PDF page set.
    pub timeout: Duration,
    /// Images narrower or lower than this many pixels are not read: they
    /// cannot hold a legible number (icons, spacers, tracking pixels).
    pub min_side: u32,
    /// Images declaring more pixels than this are refused as image bombs.
    pub max_pixels: u64,
    /// Tesseract languages, `eng+pol`.
    pub lang: String,
    /// The OCR program, if there is one.
    pub engine: Option<PathBuf>,
    /// The resolution image-only PDF pages are rendered at.
    pub dpi: u32,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            mode: OcrMode::Auto,
            timeout: Duration::from_secs(60),
            min_side: 16,
            max_pixels: 100_000_000,
            dpi: 300,
            lang: "eng".to_string(),
            engine: find_engine(),
        }
    }
}

impl OcrSettings {
    /// Whether OCR runs: not off, and an engine is there.
    pub fn runs(&self) -> bool {
        self.mode != OcrMode::Off && self.engine.is_some()
    }
}

static SETTINGS: OnceLock<OcrSettings> = OnceLock::new();

/// Sets how OCR runs in this process (once; later calls are ignored).
pub fn set_settings(settings: OcrSettings) {
    let _ = SETTINGS.set(settings);
}

/// How OCR runs in this process.
pub fn settings() -> &'static OcrSettings {
    SETTINGS.get_or_init(OcrSettings::default)
}

/// The OCR program: `LEAKHOUND_TESSERACT` if set (empty means none), else
/// the first of [`ENGINE_PATHS`] that exists.
pub fn find_engine() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(ENGINE_ENV) {
        let path = PathBuf::from(named);
        return (!path.as_os_str().is_empty() && path.is_file()).then_some(path);
    }
    ENGINE_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// The helper's command line arguments that carry the settings.
pub fn helper_args() -> Vec<String> {
    let s = settings();
    let mut args = vec![
        "--ocr-timeout".to_string(),
        s.timeout.as_secs().max(1).to_string(),
        "--ocr-lang".to_string(),
        s.lang.clone(),
        "--ocr-dpi".to_string(),
        s.dpi.to_string(),
    ];
    if let Some(engine) = &s.engine {
        args.push("--ocr-engine".to_string());
        args.push(engine.to_string_lossy().into_owned());
    }
    args
}

/// The settings the helper was given on its command line.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HelperOcrArgs {
    /// The OCR program.
    #[arg(long, hide = true, value_name = "PATH")]
    pub ocr_engine: Option<PathBuf>,
    /// Seconds the OCR program may run.
    #[arg(long, hide = true, value_name = "SECONDS")]
    pub ocr_timeout: Option<u64>,
    /// Tesseract languages.
    #[arg(long, hide = true, value_name = "LANGS")]
    pub ocr_lang: Option<String>,
    /// The resolution PDF pages are rendered at.
    #[arg(long, hide = true, value_name = "DPI")]
    pub ocr_dpi: Option<u32>,
}

impl HelperOcrArgs {
    /// Makes these the process's settings (in the helper).
    pub fn install(&self) {
        let d = OcrSettings::default();
        set_settings(OcrSettings {
            mode: OcrMode::On,
            timeout: self.ocr_timeout.map_or(d.timeout, Duration::from_secs),
            lang: self.ocr_lang.clone().unwrap_or(d.lang),
            engine: self.ocr_engine.clone(),
            dpi: self.ocr_dpi.unwrap_or(d.dpi),
            ..d
        });
    }
}

/// Reads the text of the image `data` (any format Leptonica reads: PNG,
/// JPEG, TIFF with all its pages, BMP, GIF, WebP, PNM) and writes each
/// page to `out`, ended by [`PART_END`], with the digit-fixed lines after
/// it.
pub fn extract_image(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    let text = run_engine(data)?;
    write_pages(&text, out)?;
    Ok(Vec::new())
}

/// Writes Tesseract's pages as parts.
pub(super) fn write_pages(text: &str, out: &mut dyn Write) -> Result<(), Unreadable> {
    let stopped = |_| Unreadable("the scanner stopped reading".to_string());
    let text = text.strip_suffix('\u{c}').unwrap_or(text);
    for page in text.split('\u{c}') {
        out.write_all(page.as_bytes()).map_err(stopped)?;
        let fixed = fix_digit_runs(page);
        if !fixed.is_empty() {
            out.write_all(b"\n").map_err(stopped)?;
            out.write_all(fixed.as_bytes()).map_err(stopped)?;
        }
        out.write_all(&[PART_END]).map_err(stopped)?;
    }
    Ok(())
}

/// Runs Tesseract on `image` (bytes of any format it reads), within the
/// OCR time limit: its text, pages ended by form feeds.
pub(super) fn run_engine(image: &[u8]) -> Result<String, Unreadable> {
    let s = settings();
    let Some(engine) = &s.engine else {
        return Err(Unreadable("no OCR engine".to_string()));
    };
    let text = run_program(engine_command(engine, &s.lang), image, "the OCR engine")?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Runs `command` with `input` on its standard input, within the OCR time
/// limit: its standard output (at most [`MAX_OUTPUT`] bytes). `who` names
/// the program in reasons.
fn run_program(mut command: Command, input: &[u8], who: &str) -> Result<Vec<u8>, Unreadable> {
    let s = settings();
    let mut child = command
        .spawn()
        .map_err(|e| Unreadable(format!("{who} could not start ({})", e.kind())))?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let deadline = Instant::now() + s.timeout;
    let (text, status) = std::thread::scope(|scope| {
        // The program may write before it has read everything: feed it
        // from another thread, so that a full pipe never blocks.
        let feeder = scope.spawn(move || {
            if let Some(mut stdin) = stdin.take() {
                let _ = stdin.write_all(input);
            }
        });
        let reader = scope.spawn(move || {
            let mut text = Vec::new();
            if let Some(out) = stdout.take() {
                let _ = out.take(MAX_OUTPUT).read_to_end(&mut text);
            }
            text
        });
        let mut pause = Duration::from_millis(2);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(Unreadable(
                        "the OCR time limit was reached (raise --ocr-timeout)".to_string(),
                    ));
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(Unreadable(format!("{who} was lost ({})", e.kind())));
                }
            }
        };
        let _ = feeder.join();
        let text = reader.join().unwrap_or_default();
        (text, status)
    });
    let status = status?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        return Err(Unreadable(match status.signal() {
            Some(_) => {
                format!("{who} crashed or ran out of its memory limit (a damaged or hostile input)")
            }
            None => {
                format!("{who} could not read its input (damaged, or a format it does not know)")
            }
        }));
    }
    Ok(text)
}

/// Where the PDF renderer (poppler's `pdftoppm`) is looked for.
pub const RENDERER_PATHS: &[&str] = &["/usr/bin/pdftoppm", "/usr/local/bin/pdftoppm"];

/// Pages of an image-only PDF rendered at most.
const MAX_PDF_PAGES: u32 = 10_000;

/// The pages of an image-only PDF (no text layer at all): each rendered
/// to a 300 dpi grey image by `pdftoppm` and read by Tesseract, one part
/// per PDF page, so that `ocr page N` is page N. A page that fails is
/// named and the next is read.
pub fn extract_pdf_pages(data: &[u8], out: &mut dyn Write) -> Result<FailedParts, Unreadable> {
    let Some(renderer) = RENDERER_PATHS.iter().map(Path::new).find(|p| p.is_file()) else {
        return Err(Unreadable(
            "no PDF renderer (install poppler-utils for pdftoppm)".to_string(),
        ));
    };
    // The page count, from poppler's pdfinfo beside pdftoppm.
    let info = renderer.with_file_name("pdfinfo");
    let mut count = program_command(&info);
    count.arg("-");
    let info = run_program(count, data, "the PDF reader")?;
    let pages = String::from_utf8_lossy(&info)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Pages:")
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .ok_or_else(|| Unreadable("the PDF reader found no pages".to_string()))?;
    let mut failed = Vec::new();
    for n in 1..=pages.min(MAX_PDF_PAGES) {
        let page = n.to_string();
        let mut render = program_command(renderer);
        let dpi = settings().dpi.to_string();
        render.args(["-r", &dpi, "-gray", "-f", &page, "-l", &page, "-"]);
        let rendered = run_program(render, data, "the PDF renderer").and_then(|image| {
            if image.is_empty() {
                Err(Unreadable("the PDF renderer drew nothing".to_string()))
            } else {
                Ok(image)
            }
        });
        let image = match rendered {
            Ok(image) => image,
            Err(why) => {
                failed.push((n, why.0));
                out.write_all(&[PART_END])
                    .map_err(|_| Unreadable("the scanner stopped reading".to_string()))?;
                continue;
            }
        };
        match run_engine(&image) {
            Ok(text) => write_pages(&text.replace('\u{c}', "\n"), out)?,
            Err(why) => {
                failed.push((n, why.0));
                out.write_all(&[PART_END])
                    .map_err(|_| Unreadable("the scanner stopped reading".to_string()))?;
            }
        }
    }
    Ok(failed)
}

/// `/dev/null` opened for writing, for the programs' standard error: once
/// the helper's system call filter is on ([`super::seccomp`]), no file can
/// be opened for writing, so it is opened before ([`open_dev_null`]).
static DEV_NULL: OnceLock<Option<std::fs::File>> = OnceLock::new();

/// Opens `/dev/null` for the programs' standard error, before the system
/// call filter is installed. Best effort: without it, standard error is
/// `Stdio::null()`, as before.
pub(super) fn open_dev_null() {
    DEV_NULL.get_or_init(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .ok()
    });
}

fn quiet_stderr() -> Stdio {
    match DEV_NULL
        .get()
        .and_then(Option::as_ref)
        .map(|f| f.try_clone())
    {
        Some(Ok(file)) => Stdio::from(file),
        _ => Stdio::null(),
    }
}

/// A program run by this module: an environment of its own, in `/`, pipes,
/// dying with the helper.
fn program_command(program: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(program);
    c.env_clear()
        // One thread: the helper's address space limit is shared by every
        // thread's stack, and a scanning thread is one core.
        .env("OMP_THREAD_LIMIT", "1")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(quiet_stderr());
    // SAFETY: between fork and exec only async-signal-safe calls are
    // allowed; `prctl(PR_SET_PDEATHSIG)` is one, and nothing is allocated.
    unsafe {
        c.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(io::Error::from)
        });
    }
    c
}

/// `tesseract stdin stdout`, with the page segmentation and engine this
/// module uses.
fn engine_command(engine: &Path, lang: &str) -> Command {
    let mut c = program_command(engine);
    c.args(["stdin", "stdout", "--psm", "1", "--oem", "1", "-l", lang]);
    c
}

/// Digits a word needs before a `/` in it is read as a `7`.
const SLASH_MIN_DIGITS: usize = 12;

/// The letters OCR reads in place of a digit, and that digit.
fn confused(c: char) -> Option<char> {
    Some(match c {
        'O' | 'o' | 'D' => '0',
        'l' | 'I' | '|' | 'i' => '1',
        'S' | 's' => '5',
        'B' => '8',
        'Z' => '2',
        _ => return None,
    })
}

/// The lines of `page` where a confusable letter sits in a run of digits,
/// rewritten with those letters as digits (one line each, joined by
/// newlines); empty when no line has any. A word (between spaces) is
/// rewritten only when it holds at least one real digit and nothing but
/// digits, `-./`, and confusable letters: `4111 l111 1lII 1111` becomes
/// `4111 1111 1111 1111`, while `Invoice`, `DE89` and `SSN` stay.
pub fn fix_digit_runs(page: &str) -> String {
    let mut out = String::new();
    for line in page.lines() {
        let mut changed = false;
        let fixed: Vec<String> = line
            .split(' ')
            .map(|word| {
                let digits = word.chars().filter(char::is_ascii_digit).count();
                let only = word
                    .chars()
                    .all(|c| c.is_ascii_digit() || "-./".contains(c) || confused(c).is_some());
                if digits == 0 || !only {
                    return word.to_string();
                }
                // A `7` read as `/` at large sizes: only inside a run long
                // enough to be a card or an account number, never in a
                // date (`03/04/2024` has eight digits).
                let slash = if digits >= SLASH_MIN_DIGITS { '7' } else { '/' };
                let w: String = word
                    .chars()
                    .map(|c| {
                        if c == '/' {
                            slash
                        } else {
                            confused(c).unwrap_or(c)
                        }
                    })
                    .collect();
                changed |= w != word;
                w
            })
            .collect();
        if changed {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&fixed.join(" "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fix_digit_runs;

    #[test]
    fn confusions_inside_digit_runs_are_read_as_digits() {
        assert_eq!(
            fix_digit_runs("Card 4526 OI8l 59O8 3Ol2"),
            "Card 4526 0181 5908 3012"
        );
        assert_eq!(fix_digit_runs("SSN 536-22-872B"), "SSN 536-22-8728");
    }

    #[test]
    fn words_and_clean_lines_are_left_alone() {
        // No confusion at all: nothing is written twice.
        assert_eq!(fix_digit_runs("Card 4526 0181 5908 3012\nok"), "");
        // Letters without a digit, and words with other letters.
        assert_eq!(fix_digit_runs("SOLID Bill IBAN DE89 is ISO"), "");
    }

    #[test]
    fn a_slash_is_a_seven_only_in_a_long_run() {
        assert_eq!(
            fix_digit_runs("Mastercard 54787789328/9219"),
            "Mastercard 5478778932879219"
        );
        // Dates and short references keep their slashes.
        assert_eq!(fix_digit_runs("due 03/04/2024 ref 12/345"), "");
    }

    #[test]
    fn only_the_changed_lines_come_back() {
        assert_eq!(
            fix_digit_runs("first 1234\nPESEL 85l2O3l2343\nlast"),
            "PESEL 85120312343"
        );
    }
}
