//! keepalived.conf's syntax, as keepalived's parser reads it: words
//! separated by blanks, `{` and `}` tokens of their own (a block may open
//! on the keyword's line or on the next one, and close on any line),
//! `"quoted strings"` as one word, comments from `#` or `!` outside quotes
//! to the end of the line, a trailing `\` joining the next line, and
//! `include PATTERN` lines (glob patterns, relative to the including
//! file's directory, matches in sorted order) spliced in where they stand.
//!
//! Every statement keeps its file and line, for the converter's messages.
//! The file system is behind [`Source`], so the parser is tested with
//! files in memory.

use super::Problem;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Deepest nesting of includes (a file that includes itself is caught
/// on its own).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where the parser reads files and lists directories.
pub trait Source {
    /// The text of the file at `path`.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// The names of the entries of the directory `dir`.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
}

/// The real file system.
pub struct Fs;

impl Source for Fs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = vec![];
        for e in std::fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
}

/// One statement: its words and, if it opens one, its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The file it is in.
    pub file: Rc<str>,
    /// Its 1-based line.
    pub line: usize,
    /// The keyword and its arguments (quotes removed).
    pub words: Vec<String>,
    /// The statements between its braces, if it has any.
    pub block: Option<Vec<Node>>,
}

impl Node {
    /// The keyword.
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    /// The arguments after the keyword.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// A problem at this statement.
    pub fn problem(&self, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.to_string(),
            line: self.line,
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Word(String),
    Open,
    Close,
}

#[derive(Clone, Debug)]
struct Tok {
    kind: Kind,
    file: Rc<str>,
    line: usize,
    /// The first token of its line: a word here starts a statement.
    first: bool,
}

/// Parse the file at `path` and everything it includes.
pub fn parse(src: &dyn Source, path: &Path) -> Result<Vec<Node>, Vec<Problem>> {
    let mut problems = vec![];
    let mut toks = vec![];
    match src.read(path) {
        Ok(text) => tokenize_file(
            src,
            path,
            &text,
            &mut vec![path.to_path_buf()],
            &mut toks,
            &mut problems,
        ),
        Err(e) => problems.push(Problem {
            file: path.display().to_string(),
            line: 0,
            message: format!("cannot read: {e}"),
        }),
    }
    let nodes = build(toks, &mut problems);
    if problems.is_empty() {
        Ok(nodes)
    } else {
        Err(problems)
    }
}

/// The tokens of one file, with its includes spliced in.
fn tokenize_file(
    src: &dyn Source,
    path: &Path,
    text: &str,
    stack: &mut Vec<PathBuf>,
    out: &mut Vec<Tok>,
    problems: &mut Vec<Problem>,
) {
    let file: Rc<str> = Rc::from(path.display().to_string());
    let mut pending = String::new();
    let mut pending_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if pending.is_empty() {
            pending_line = line_no;
        }
        let (content, continued) = decomment(raw);
        pending.push_str(&content);
        if continued {
            pending.push(' ');
            continue;
        }
        let logical = std::mem::take(&mut pending);
        let at = |message: String| Problem {
            file: file.to_string(),
            line: pending_line,
            message,
        };
        let kinds = match split(&logical) {
            Ok(k) => k,
            Err(m) => {
                problems.push(at(m));
                continue;
            }
        };
        let Some((head, quoted)) = kinds.first().and_then(|(k, q)| match k {
            Kind::Word(w) => Some((w.as_str(), *q)),
            _ => None,
        }) else {
            push_line(out, &file, pending_line, kinds);
            continue;
        };
        if !quoted && (head.starts_with('$') || head.starts_with('@') || head.starts_with('~')) {
            problems.push(at(format!(
                "`{head}`: keepalived's parameter definitions, conditional lines and sequences are not converted; expand them by hand"
            )));
            continue;
        }
        if !quoted && head == "include" {
            let args: Vec<&str> = kinds[1..]
                .iter()
                .filter_map(|(k, _)| match k {
                    Kind::Word(w) => Some(w.as_str()),
                    _ => None,
                })
                .collect();
            if args.len() != 1 || kinds.len() != 2 {
                problems.push(at("include takes one file name or glob pattern".into()));
                continue;
            }
            if stack.len() > MAX_INCLUDE_DEPTH {
                problems.push(at(format!(
                    "include {}: more than {MAX_INCLUDE_DEPTH} levels of includes (does a file include itself?)",
                    args[0]
                )));
                continue;
            }
            let pattern = resolve(path, args[0]);
            let files = match expand(src, &pattern) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(at(format!("include {}: {e}", args[0])));
                    continue;
                }
            };
            if files.is_empty() && !has_glob(args[0]) {
                problems.push(at(format!(
                    "include {}: {} does not exist",
                    args[0],
                    pattern.display()
                )));
            }
            for f in files {
                if stack.contains(&f) {
                    problems.push(at(format!(
                        "include {}: {} includes itself",
                        args[0],
                        f.display()
                    )));
                    continue;
                }
                match src.read(&f) {
                    Ok(t) => {
                        stack.push(f.clone());
                        tokenize_file(src, &f, &t, stack, out, problems);
                        stack.pop();
                    }
                    Err(e) => {
                        problems.push(at(format!("include {}: {}: {e}", args[0], f.display())))
                    }
                }
            }
            continue;
        }
        push_line(out, &file, pending_line, kinds);
    }
}

fn push_line(out: &mut Vec<Tok>, file: &Rc<str>, line: usize, kinds: Vec<(Kind, bool)>) {
    for (i, (kind, _)) in kinds.into_iter().enumerate() {
        out.push(Tok {
            kind,
            file: file.clone(),
            line,
            first: i == 0,
        });
    }
}

/// The line without its comment, and whether a trailing `\` continues it.
fn decomment(line: &str) -> (String, bool) {
    let mut out = String::new();
    let mut quote = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quote = !quote;
                out.push(c);
            }
            '\\' => match chars.next() {
                None => return (out, true),
                Some(n) => {
                    out.push(c);
                    out.push(n);
                }
            },
            '#' | '!' if !quote => return (out, false),
            _ => out.push(c),
        }
    }
    (out, false)
}

/// Words and braces of one logical line; a word's flag says it was quoted.
fn split(line: &str) -> Result<Vec<(Kind, bool)>, String> {
    let mut out = vec![];
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '{' => {
                chars.next();
                out.push((Kind::Open, false));
            }
            '}' => {
                chars.next();
                out.push((Kind::Close, false));
            }
            _ => {
                let mut word = String::new();
                let mut quoted = false;
                let mut in_quote = false;
                while let Some(&c) = chars.peek() {
                    if !in_quote && (c.is_whitespace() || c == '{' || c == '}') {
                        break;
                    }
                    chars.next();
                    match c {
                        '"' => {
                            in_quote = !in_quote;
                            quoted = true;
                        }
                        '\\' if in_quote => {
                            if let Some(n) = chars.next() {
                                if n != '"' && n != '\\' {
                                    word.push('\\');
                                }
                                word.push(n);
                            }
                        }
                        _ => word.push(c),
                    }
                }
                if in_quote {
                    return Err("a quoted string is not closed on its line".into());
                }
                out.push((Kind::Word(word), quoted));
            }
        }
    }
    Ok(out)
}

/// The statements of a token stream.
fn build(toks: Vec<Tok>, problems: &mut Vec<Problem>) -> Vec<Node> {
    // Open blocks: the owner and the statements so far.
    let mut stack: Vec<(Node, Vec<Node>)> = vec![];
    let mut top: Vec<Node> = vec![];
    let mut current: Option<Node> = None;
    fn list<'a>(stack: &'a mut [(Node, Vec<Node>)], top: &'a mut Vec<Node>) -> &'a mut Vec<Node> {
        match stack.last_mut() {
            Some((_, l)) => l,
            None => top,
        }
    }
    for t in toks {
        match t.kind {
            Kind::Word(w) => {
                if t.first {
                    if let Some(n) = current.take() {
                        list(&mut stack, &mut top).push(n);
                    }
                }
                current
                    .get_or_insert_with(|| Node {
                        file: t.file.clone(),
                        line: t.line,
                        words: vec![],
                        block: None,
                    })
                    .words
                    .push(w);
            }
            Kind::Open => {
                let owner = match current.take() {
                    Some(n) => Some(n),
                    // `{` on a line of its own opens the previous statement's block.
                    None => {
                        let l = list(&mut stack, &mut top);
                        match l.last() {
                            Some(n) if n.block.is_none() => l.pop(),
                            _ => None,
                        }
                    }
                };
                match owner {
                    Some(o) => stack.push((o, vec![])),
                    None => {
                        problems.push(Problem {
                            file: t.file.to_string(),
                            line: t.line,
                            message: "`{` without a keyword before it".into(),
                        });
                        // Parse what follows anyway, as an anonymous block.
                        stack.push((
                            Node {
                                file: t.file.clone(),
                                line: t.line,
                                words: vec![],
                                block: None,
                            },
                            vec![],
                        ));
                    }
                }
            }
            Kind::Close => {
                if let Some(n) = current.take() {
                    list(&mut stack, &mut top).push(n);
                }
                match stack.pop() {
                    Some((mut owner, children)) => {
                        owner.block = Some(children);
                        if !owner.words.is_empty() {
                            list(&mut stack, &mut top).push(owner);
                        }
                    }
                    None => problems.push(Problem {
                        file: t.file.to_string(),
                        line: t.line,
                        message: "`}` closes no block".into(),
                    }),
                }
            }
        }
    }
    if let Some(n) = current.take() {
        list(&mut stack, &mut top).push(n);
    }
    while let Some((mut owner, children)) = stack.pop() {
        problems.push(owner.problem(format!(
            "the block of `{}` is never closed",
            owner.words.join(" ")
        )));
        owner.block = Some(children);
        list(&mut stack, &mut top).push(owner);
    }
    top
}

/// `name` relative to the directory of `including`, unless absolute.
fn resolve(including: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        including.parent().unwrap_or_else(|| Path::new("")).join(p)
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The files a pattern names, sorted; a name without glob characters is
/// itself if it exists.
fn expand(src: &dyn Source, pattern: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let s = comp.as_os_str().to_string_lossy();
        let mut next = vec![];
        for base in &found {
            if !has_glob(&s) {
                next.push(base.join(comp.as_os_str()));
                continue;
            }
            let mut names = match src.list(base) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            names.sort();
            for n in names {
                // As glob(3): a leading dot is matched only by a dot.
                if n.starts_with('.') && !s.starts_with('.') {
                    continue;
                }
                if glob_match(s.as_bytes(), n.as_bytes()) {
                    next.push(base.join(n));
                }
            }
        }
        found = next;
    }
    // Only what exists (a literal name that does not is left out, and
    // reported by the caller).
    Ok(found.into_iter().filter(|p| src.read(p).is_ok()).collect())
}

/// fnmatch(3) on one path component: `*`, `?` and `[...]` (with ranges
/// and `!` or `^` negation).
fn glob_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_match(&p[1..], s) || (!s.is_empty() && glob_match(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_match(&p[1..], &s[1..]),
        (Some(b'['), Some(&c)) => {
            let mut i = 1;
            let neg = matches!(p.get(1), Some(b'!' | b'^'));
            if neg {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            while i < p.len() && (first || p[i] != b']') {
                first = false;
                if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
                    hit |= p[i] <= c && c <= p[i + 2];
                    i += 3;
                } else {
                    hit |= p[i] == c;
                    i += 1;
                }
            }
            if i >= p.len() {
                // No closing bracket: a literal `[`.
                return c == b'[' && glob_match(&p[1..], &s[1..]);
            }
            hit != neg && glob_match(&p[i + 1..], &s[1..])
        }
        (Some(a), Some(b)) => a == b && glob_match(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Files in memory.
    pub(crate) struct Mem(pub BTreeMap<PathBuf, String>);

    impl Mem {
        pub(crate) fn new(files: &[(&str, &str)]) -> Self {
            Mem(files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect())
        }
    }

    impl Source for Mem {
        fn read(&self, path: &Path) -> io::Result<String> {
            // Lexically, as the kernel would resolve `..` here.
            let mut norm = PathBuf::new();
            for c in path.components() {
                match c {
                    std::path::Component::ParentDir => {
                        norm.pop();
                    }
                    c => norm.push(c),
                }
            }
            self.0
                .get(&norm)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }

        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            let names: Vec<String> = self
                .0
                .keys()
                .filter(|p| p.parent() == Some(dir))
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            if names.is_empty() {
                Err(io::ErrorKind::NotFound.into())
            } else {
                Ok(names)
            }
        }
    }

    fn one(text: &str) -> Result<Vec<Node>, Vec<Problem>> {
        parse(
            &Mem::new(&[("/k/keepalived.conf", text)]),
            Path::new("/k/keepalived.conf"),
        )
    }

    /// (line, words, children) for compact assertions.
    fn shape(nodes: &[Node]) -> Vec<(usize, String, Option<usize>)> {
        nodes
            .iter()
            .map(|n| (n.line, n.words.join(" "), n.block.as_ref().map(Vec::len)))
            .collect()
    }

    #[test]
    fn blocks_comments_and_quotes() {
        let text = "! Configuration File for keepalived\n\
                    global_defs {\n  router_id LVS_DEVEL # a comment\n}\n\
                    vrrp_script chk {\n  script \"killall -0 haproxy\"   ! another\n  interval 2\n}\n\
                    vrrp_instance VI_1\n{\n  virtual_ipaddress { 10.0.0.1/24 dev eth0 }\n  authentication {\n    auth_pass \"a#b!c\"\n  }\n}\n";
        let nodes = one(text).unwrap();
        assert_eq!(
            shape(&nodes),
            vec![
                (2, "global_defs".into(), Some(1)),
                (5, "vrrp_script chk".into(), Some(2)),
                (9, "vrrp_instance VI_1".into(), Some(2)),
            ]
        );
        assert_eq!(
            nodes[0].block.as_ref().unwrap()[0].words,
            ["router_id", "LVS_DEVEL"]
        );
        let script = &nodes[1].block.as_ref().unwrap()[0];
        assert_eq!(script.words, ["script", "killall -0 haproxy"]);
        assert_eq!(script.line, 6);
        let inst = nodes[2].block.as_ref().unwrap();
        assert_eq!(
            shape(inst),
            vec![
                (11, "virtual_ipaddress".into(), Some(1)),
                (12, "authentication".into(), Some(1))
            ]
        );
        assert_eq!(
            inst[0].block.as_ref().unwrap()[0].words,
            ["10.0.0.1/24", "dev", "eth0"]
        );
        assert_eq!(
            inst[1].block.as_ref().unwrap()[0].words,
            ["auth_pass", "a#b!c"]
        );
        assert_eq!(&*inst[1].file, "/k/keepalived.conf");
    }

    #[test]
    fn continuation_lines() {
        let nodes = one("vrrp_script s {\n  script \"/bin/check \\\n  --fast\"\n  interval 1\n}\n")
            .unwrap();
        let b = nodes[0].block.as_ref().unwrap();
        assert_eq!(b[0].words, ["script", "/bin/check    --fast"]);
        assert_eq!((b[0].line, b[1].line), (2, 4));
    }

    #[test]
    fn brace_errors_have_lines() {
        let errs = one("a {\n b\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 1);
        assert!(errs[0].message.contains("never closed"), "{errs:?}");
        let errs = one("a\n}\n").unwrap_err();
        assert_eq!(
            (errs[0].line, errs[0].message.as_str()),
            (2, "`}` closes no block")
        );
        let errs = one("a {\n}\n{\n}\n").unwrap_err();
        assert_eq!(errs[0].line, 3, "{errs:?}");
        let errs = one("a \"open\n").unwrap_err();
        assert!(errs[0].message.contains("quoted string"), "{errs:?}");
        let errs = one("$IF=eth0\n@main x 1\n").unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(errs[0].message.contains("by hand"), "{errs:?}");
    }

    #[test]
    fn includes_relative_globbed_and_sorted() {
        let mem = Mem::new(&[
            ("/etc/keepalived/keepalived.conf", "global_defs {\n router_id a\n}\ninclude conf.d/*.conf\ninclude /abs/x.conf\nlast\n"),
            ("/etc/keepalived/conf.d/20-b.conf", "b1\nb2 {\n include ../part.inc\n}\n"),
            ("/etc/keepalived/conf.d/10-a.conf", "a1\n"),
            ("/etc/keepalived/conf.d/.hidden.conf", "hidden\n"),
            ("/etc/keepalived/conf.d/README", "readme\n"),
            ("/etc/keepalived/part.inc", "inner 1\n"),
            ("/abs/x.conf", "x\n"),
        ]);
        let nodes = parse(&mem, Path::new("/etc/keepalived/keepalived.conf")).unwrap();
        let words: Vec<_> = nodes
            .iter()
            .map(|n| (n.file.to_string(), n.line, n.keyword().to_string()))
            .collect();
        assert_eq!(
            words,
            vec![
                (
                    "/etc/keepalived/keepalived.conf".into(),
                    1,
                    "global_defs".into()
                ),
                ("/etc/keepalived/conf.d/10-a.conf".into(), 1, "a1".into()),
                ("/etc/keepalived/conf.d/20-b.conf".into(), 1, "b1".into()),
                ("/etc/keepalived/conf.d/20-b.conf".into(), 2, "b2".into()),
                ("/abs/x.conf".into(), 1, "x".into()),
                ("/etc/keepalived/keepalived.conf".into(), 6, "last".into()),
            ]
        );
        let inner = &nodes[3].block.as_ref().unwrap()[0];
        assert_eq!(
            (&*inner.file, inner.line),
            ("/etc/keepalived/conf.d/../part.inc", 1)
        );
    }

    #[test]
    fn include_problems() {
        let mem = Mem::new(&[(
            "/k/a.conf",
            "include missing.conf\ninclude none/*.conf\ninclude a.conf\n",
        )]);
        let errs = parse(&mem, Path::new("/k/a.conf")).unwrap_err();
        // The missing file, and the loop; a pattern matching nothing is fine.
        assert!(
            errs[0].message.contains("/k/missing.conf does not exist"),
            "{errs:?}"
        );
        assert_eq!((errs[0].file.as_str(), errs[0].line), ("/k/a.conf", 1));
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[1].message, "include a.conf: /k/a.conf includes itself");
        assert_eq!(errs[1].line, 3);
        assert!(
            errs.iter().all(|e| !e.message.contains("none/")),
            "{errs:?}"
        );
    }

    #[test]
    fn globs() {
        for (p, s, m) in [
            ("*.conf", "a.conf", true),
            ("*.conf", "a.conf~", false),
            ("a?c", "abc", true),
            ("[0-9]*", "10-x", true),
            ("[!0-9]*", "10-x", false),
            ("[^a]", "b", true),
            ("x[", "x[", true),
            ("*", "", true),
        ] {
            assert_eq!(glob_match(p.as_bytes(), s.as_bytes()), m, "{p} {s}");
        }
    }
}
