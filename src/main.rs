//! The `leakhound` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    // PDF text is extracted by this same program in a child process.
    if let Some(program) = leakhound::extract::pdf::own_executable() {
        leakhound::extract::pdf::set_helper(program);
    }
    leakhound::cli::main()
}
