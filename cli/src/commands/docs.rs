//! `completion <shell>` and `man`: generated from the same clap definitions as the parser, so
//! they cannot drift from it.

use std::path::Path;

use clap_complete::Shell;

use crate::error::{io_error, CliResult};
use crate::output::emit;

/// Prints the completion script for `shell` (etcdctl 3.6's `completion` command).
pub(crate) fn completion(shell: Shell) -> CliResult {
    let mut cmd = crate::args::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "etcdgw", &mut script);
    emit(&script)
}

/// Prints the `etcdgw(1)` page, or with a directory writes `etcdgw.1` and one
/// `etcdgw-<command>[-<subcommand>].1` page per command into it.
pub(crate) fn man(dir: Option<&Path>) -> CliResult {
    let mut cmd = crate::args::command();
    cmd.build();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| io_error("cannot render the man page", &e))?;
        return emit(&page);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| io_error(&format!("cannot create {}", dir.display()), &e))?;
    let mut written = Vec::new();
    write_pages(&cmd, "etcdgw", dir, &mut written)?;
    let mut list = String::new();
    for path in written {
        list.push_str(&path);
        list.push('\n');
    }
    emit(list.as_bytes())
}

/// Writes the page of `cmd` (named `name`) and those of its subcommands, depth first.
fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> CliResult {
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.to_string()))
        .render(&mut page)
        .map_err(|e| io_error("cannot render the man page", &e))?;
    std::fs::write(&path, page)
        .map_err(|e| io_error(&format!("cannot write {}", path.display()), &e))?;
    written.push(path.display().to_string());
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
