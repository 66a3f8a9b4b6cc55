//! What the command line tells about itself: help for every argument, `--version` on every
//! command, the bash completion script run in a real bash, and the man page.

mod common;

use std::process::Command as Process;

use assert_cmd::Command;
use clap::{CommandFactory, ValueEnum};
use cli::{Cli, Format, InspectFormat};

/// The binary's own argument definitions (its `src/cli.rs`, compiled here as it is there):
/// the binary has no library to import them from.
#[path = "../src/cli.rs"]
#[allow(dead_code)]
mod cli;

fn bin() -> Command {
    Command::cargo_bin("badalloc-audit").unwrap()
}

/// The command tree as clap builds it (help and version arguments included).
fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Every subcommand, with the arguments a user can type (clap's own help subcommand has
/// none of its own).
fn commands(cmd: &clap::Command) -> Vec<&clap::Command> {
    cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect()
}

fn value_names<T: ValueEnum>() -> Vec<String> {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect()
}

#[test]
fn every_argument_and_command_has_help() {
    let cmd = built();
    let mut missing = Vec::new();
    let mut seen = 0;
    let mut check = |path: String, c: &clap::Command| {
        if c.get_about().is_none() && c.get_long_about().is_none() {
            missing.push(format!("command {path}"));
        }
        for a in c.get_arguments().filter(|a| !a.is_hide_set()) {
            seen += 1;
            let help = a.get_help().or(a.get_long_help()).map(|h| h.to_string());
            if help.is_none_or(|h| h.trim().is_empty()) {
                missing.push(format!("{path}: argument {}", a.get_id()));
            }
        }
    };
    check("badalloc-audit".into(), &cmd);
    for sub in commands(&cmd) {
        check(format!("badalloc-audit {}", sub.get_name()), sub);
    }
    assert!(seen > 20, "only {seen} arguments walked");
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

#[test]
fn every_command_answers_version() {
    let version = env!("CARGO_PKG_VERSION");
    for sub in commands(&built()) {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        let out = bin().args([name, "--version"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} --version: {out:?}");
        assert!(
            text.trim_end().ends_with(version) && text.contains(name),
            "{name} --version: {text:?}"
        );
    }
}

#[test]
fn jobs_outside_1_to_64_is_a_usage_error() {
    for n in ["0", "65", "-1", "many"] {
        let out = bin()
            .args(["scan", &format!("--jobs={n}"), "."])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--jobs {n}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("must be a number from 1 to 64"), "{err}");
        assert!(out.stdout.is_empty(), "--jobs {n}: nothing scanned");
    }
}

// ---------------------------------------------------------------- bash completion

/// Runs `lines` (one completion request per line: the words, the last one being completed)
/// in a real bash that sourced the generated script, the way readline calls it: the
/// function `complete -p` names, with COMP_WORDS/COMP_CWORD set and the command, current and
/// previous word as arguments. Returns COMPREPLY for each request.
fn complete(requests: &[&[&str]]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("badalloc-audit.bash");
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    let mut driver = format!(
        "source {}\n\
         spec=$(complete -p badalloc-audit) || exit 9\n\
         fn=${{spec#*-F }}; fn=${{fn%% *}}\n\
         ask() {{ COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=();\n\
           local prev=\"\"; (( COMP_CWORD > 0 )) && prev=${{COMP_WORDS[COMP_CWORD-1]}}\n\
           \"$fn\" badalloc-audit \"${{COMP_WORDS[COMP_CWORD]}}\" \"$prev\" 2>/dev/null\n\
           printf '%s ' \"${{COMPREPLY[@]}}\"; echo '|'; }}\n",
        script.display()
    );
    for words in requests {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        driver.push_str(&format!("ask {}\n", quoted.join(" ")));
    }
    let out = Process::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let replies: Vec<Vec<String>> = text
        .lines()
        .map(|l| {
            l.trim_end_matches('|')
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .collect();
    assert_eq!(replies.len(), requests.len(), "{text}");
    replies
}

fn assert_has(reply: &[String], wanted: &[String], what: &str) {
    for w in wanted {
        assert!(reply.contains(w), "{what}: {w} missing from {reply:?}");
    }
}

#[test]
fn bash_completes_subcommands_options_and_values() {
    let cmd = built();
    let subs = commands(&cmd);
    let mut requests: Vec<Vec<&str>> = vec![
        vec!["badalloc-audit", ""],
        vec!["badalloc-audit", "scan", "--f"],
        vec!["badalloc-audit", "scan", "--format", ""],
        vec!["badalloc-audit", "scan", "--format", "s"],
        vec!["badalloc-audit", "inspect", "--format", ""],
        vec!["badalloc-audit", "diff", "--format", ""],
        vec!["badalloc-audit", "completions", ""],
    ];
    let longs: Vec<Vec<String>> = subs
        .iter()
        .map(|s| {
            s.get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect()
        })
        .collect();
    for s in &subs {
        requests.push(vec!["badalloc-audit", s.get_name(), "--"]);
    }
    let asked: Vec<&[&str]> = requests.iter().map(Vec::as_slice).collect();
    let replies = complete(&asked);

    let names: Vec<String> = subs.iter().map(|s| s.get_name().to_string()).collect();
    assert_has(&replies[0], &names, "subcommands");
    assert_eq!(replies[1], ["--format"], "scan --f<TAB>");
    assert_has(&replies[2], &value_names::<Format>(), "scan --format <TAB>");
    assert_eq!(
        replies[2].len(),
        value_names::<Format>().len(),
        "{:?}",
        replies[2]
    );
    assert_eq!(replies[3], ["sarif"], "scan --format s<TAB>");
    assert_eq!(replies[4], value_names::<InspectFormat>());
    assert_eq!(replies[5], value_names::<InspectFormat>());
    assert_has(
        &replies[6],
        &value_names::<clap_complete::Shell>(),
        "completions <TAB>",
    );
    for (i, s) in subs.iter().enumerate() {
        assert_has(
            &replies[7 + i],
            &longs[i],
            &format!("{} --<TAB>", s.get_name()),
        );
    }
}

// ---------------------------------------------------------------- man page

/// The man page split into its sections (`.SH`), and the commands' subsections (`.SS`).
fn man_sections(page: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in page.lines() {
        if let Some(h) = line.strip_prefix(".SH ").or(line.strip_prefix(".SS ")) {
            out.push((h.trim_matches('"').replace("\\-", "-"), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[test]
fn man_page_documents_every_option_and_the_exit_status() {
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    let sections = man_sections(&page);
    let titles: Vec<&str> = sections.iter().map(|(t, _)| t.as_str()).collect();
    let cmd = built();
    for sub in commands(&cmd) {
        let title = format!("badalloc-audit {}", sub.get_name());
        let body = &sections
            .iter()
            .find(|(t, _)| *t == title)
            .unwrap_or_else(|| panic!("no section {title}: {titles:?}"))
            .1;
        for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            let shown = match (a.get_long(), a.get_value_names()) {
                (Some(l), _) => format!("\\-\\-{}", l.replace('-', "\\-")),
                (None, Some(v)) => v.join(" ").replace('-', "\\-"),
                (None, None) => a.get_id().to_string(),
            };
            assert!(body.contains(&shown), "{title}: {shown} not documented");
            for v in a.get_possible_values().iter().filter(|v| !v.is_hide_set()) {
                assert!(
                    body.contains(v.get_name()),
                    "{title}: value {}",
                    v.get_name()
                );
            }
        }
        // The synopsis shows the command's usage too.
        let synopsis = &sections.iter().find(|(t, _)| t == "SYNOPSIS").unwrap().1;
        assert!(
            synopsis.contains(&format!("badalloc\\-audit {}", sub.get_name())),
            "{title} not in the synopsis"
        );
    }
    let exit = &sections
        .iter()
        .find(|(t, _)| t == "EXIT STATUS")
        .expect("an EXIT STATUS section")
        .1;
    for code in 0..=5 {
        assert!(
            exit.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "status {code} not laid out:\n{exit}"
        );
    }
    assert!(exit.contains("closed pipe"), "{exit}");
    // No page is named that does not exist (clap_mangen names badalloc-audit-scan(1)...).
    assert!(!page.contains("(1)"), "names another page");
    assert_eq!(page.matches(".TH ").count(), 1);
    assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble");
}

/// The page as `man` renders it: groff reads it without a warning, and a reader sees every
/// command and the exit statuses.
#[test]
fn man_renders_the_page() {
    if Process::new("man").arg("--version").output().is_err() {
        common::skip_environment("man is not installed: the man page is not rendered");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("badalloc-audit.1");
    let out = bin().arg("man").output().unwrap();
    std::fs::write(&path, &out.stdout).unwrap();
    let render = |width: &str| {
        let shown = Process::new("man")
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(&path)
            .env("MANWIDTH", width)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&shown.stderr).into_owned();
        assert!(
            shown.status.success() && err.trim().is_empty(),
            "{width} columns: {err}"
        );
        String::from_utf8_lossy(&shown.stdout).into_owned()
    };
    // A terminal's usual widths: no line troff cannot lay out.
    for width in ["72", "80"] {
        render(width);
    }
    let text = render("100");
    for wanted in [
        "EXIT STATUS",
        "badalloc-audit scan",
        "badalloc-audit inspect",
        "--same-target",
        "--offset",
        "cyclonedx",
    ] {
        assert!(text.contains(wanted), "{wanted} not shown:\n{text}");
    }
}
