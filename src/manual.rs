//! The man page and the shell completions, generated from the clap definition (`cli`).

use std::io;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::cli::{Cli, EXIT_CODES};

/// The program's name, as installed and as completions register it.
pub const BIN: &str = "badalloc-audit";

/// The completion script for `shell`.
///
/// clap_complete's bash script names its states in two ways when the program's name has a
/// hyphen (clap-rs/clap#6421): the loop that reads the words sets `badalloc__audit__subcmd__scan`,
/// while the case labels that hold each subcommand's options read
/// `badalloc__subcmd__audit__subcmd__scan`, so no subcommand's options or values ever
/// completed. The labels are respelled as the loop spells them.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    if shell != Shell::Bash {
        return script;
    }
    let text = String::from_utf8_lossy(&script);
    let wrong = format!("{}__subcmd__", BIN.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", BIN.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}

/// The man page (roff): one page, `badalloc-audit(1)`, with every command's synopsis,
/// description and options, and the exit status laid out. It names no other page.
pub fn man_page() -> io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let top = Man::new(cmd.clone()).manual("User Commands");
    let mut page = Vec::new();
    top.render_title(&mut page)?;
    page.extend(body_of(|w| top.render_name_section(w))?);
    page.extend(body_of(|w| top.render_synopsis_section(w))?);
    let commands: Vec<&clap::Command> =
        cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    for sub in &commands {
        let mut roff = Roff::new();
        roff.control("br", []);
        page.extend(roff_lines(&roff));
        page.extend(without_headers(body_of(|w| {
            Man::new((*sub).clone()).render_synopsis_section(w)
        })?));
    }
    page.extend(body_of(|w| top.render_description_section(w))?);
    page.extend(body_of(|w| top.render_options_section(w))?);
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    page.extend(roff_lines(&roff));
    for sub in &commands {
        let man = Man::new((*sub).clone());
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        let mut roff = Roff::new();
        roff.control("SS", [name]);
        page.extend(roff_lines(&roff));
        page.extend(without_headers(body_of(|w| {
            man.render_description_section(w)
        })?));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page.extend(without_headers(body_of(|w| man.render_options_section(w))?));
        }
    }
    page.extend(roff_lines(&exit_status_section()));
    page.extend(body_of(|w| top.render_version_section(w))?);
    Ok(page)
}

/// The EXIT STATUS section, from the same text as `--help`'s: one tagged paragraph per
/// status, then the notes.
fn exit_status_section() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |roff: &mut Roff, paragraph: &mut Vec<&str>| {
        if !paragraph.is_empty() {
            roff.control("PP", []);
            roff.text([roman(paragraph.join(" "))]);
            paragraph.clear();
        }
    };
    for line in EXIT_CODES
        .lines()
        .skip_while(|l| l.trim_end().ends_with(':'))
    {
        let trimmed = line.trim();
        let status = trimmed
            .split_once("  ")
            .filter(|(code, _)| !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()));
        match status {
            Some((code, meaning)) if line.starts_with("  ") => {
                flush(&mut roff, &mut paragraph);
                roff.control("TP", []);
                roff.text([bold(code)]);
                roff.text([roman(meaning.trim())]);
            }
            _ if trimmed.is_empty() => flush(&mut roff, &mut paragraph),
            _ => paragraph.push(trimmed),
        }
    }
    flush(&mut roff, &mut paragraph);
    roff
}

/// What a clap_mangen section writer writes, without the preamble every call repeats (it
/// is written once, with the title).
fn body_of(render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    render(&mut out)?;
    Ok(lines_where(&out, |l| !is_preamble(l)))
}

fn roff_lines(roff: &Roff) -> Vec<u8> {
    // Writing to a Vec does not fail.
    body_of(|w| roff.to_writer(w)).unwrap_or_default()
}

/// A section's lines without its `.SH` heading: a command's synopsis and options go under
/// that command's `.SS` heading. (Text lines never start with a dot: roff escapes it.)
fn without_headers(body: Vec<u8>) -> Vec<u8> {
    lines_where(&body, |l| !l.starts_with(".SH "))
}

fn is_preamble(line: &str) -> bool {
    line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq")
}

/// The lines of `roff` that `keep` keeps, each ended by a newline.
fn lines_where(roff: &[u8], keep: impl Fn(&str) -> bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = Vec::with_capacity(roff.len());
    for line in text.lines().filter(|l| keep(l)) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}
