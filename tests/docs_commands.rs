//! The docs cannot drift from the command line: every `ista-nas` command quoted in README.md and
//! docs/ (lines `$ ista-nas …`, `ista-nas …` and `cargo run --release -- …`, continued lines
//! joined, comments dropped, shell variables given example values; synopses with `[`, `|` or
//! `...` left out) parses with today's flags. Each is given with `--help` at its end, which clap
//! answers only when every argument before it is known and valid, so nothing runs.

mod common;

use common::{run, text};

/// The commands quoted in `doc`, as argument lists (without the program), with their lines.
fn commands(doc: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = doc.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let mut line = lines[i].trim().to_string();
        while line.ends_with('\\') && i + 1 < lines.len() {
            line.pop();
            i += 1;
            line.push(' ');
            line.push_str(lines[i].trim());
        }
        i += 1;
        let rest = ["$ ista-nas ", "ista-nas ", "cargo run --release -- "]
            .iter()
            .find_map(|p| line.strip_prefix(p));
        let Some(rest) = rest else { continue };
        let command = match rest.find(" #") {
            Some(at) => &rest[..at],
            None => rest,
        };
        if command.contains(['[', '|']) || command.contains("...") || command.contains('…') {
            continue;
        }
        let words =
            shlex::split(command).unwrap_or_else(|| panic!("line {}: {command}", start + 1));
        out.push((
            start + 1,
            words.iter().map(|w| without_variables(w)).collect(),
        ));
    }
    out
}

/// Example values of the shell variables the docs use.
const VARIABLES: [(&str, &str); 3] = [
    ("SLURM_ARRAY_TASK_ID", "0"),
    ("SLURM_ARRAY_TASK_COUNT", "4"),
    ("STUDY", "runs/study"),
];

/// `word` with each shell variable (`$NAME`) replaced by its value in [`VARIABLES`].
fn without_variables(word: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
        }
        let value = VARIABLES.iter().find(|(n, _)| *n == name);
        out.push_str(
            value
                .unwrap_or_else(|| panic!("add ${name} to VARIABLES"))
                .1,
        );
    }
    out
}

#[test]
fn every_documented_command_parses() {
    let mut docs = vec![std::path::PathBuf::from("README.md")];
    let mut pages: Vec<_> = std::fs::read_dir("docs")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    let mut checked = 0;
    let mut failures = Vec::new();
    for doc in &docs {
        let text_of_doc = std::fs::read_to_string(doc).unwrap();
        for (line, mut words) in commands(&text_of_doc) {
            words.push("--help".into());
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            let done = run(&args);
            checked += 1;
            if !done.status.success() {
                failures.push(format!(
                    "{}:{line}: ista-nas {}\n{}",
                    doc.display(),
                    words[..words.len() - 1].join(" "),
                    text(&done.stderr)
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} commands found in the docs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_check_catches_an_unknown_flag() {
    let found = commands("```sh\ncargo run --release -- search --no-such-flag 3  # note\n```\n");
    assert_eq!(found.len(), 1);
    let mut words = found[0].1.clone();
    assert_eq!(words, ["search", "--no-such-flag", "3"]);
    let shard = "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT";
    assert_eq!(without_variables(shard), "0/4");
    words.push("--help".into());
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    assert!(!run(&args).status.success());
}
