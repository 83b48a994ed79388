//! The `leakhound` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    // PDF text is extracted by this same program in a child process.
    if let Some(program) = leakhound::extract::helper::own_executable() {
        leakhound::extract::helper::set_helper(program);
    }
    leakhound::cli::main()
}
