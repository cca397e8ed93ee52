// Package doccomment reads doc comments from eBPF C sources (*.bpf.c)
// without a C compiler: a small scanner of its own finds the file-scope
// declarations (global variables, maps, programs, helpers, the LICENSE
// string, struct/union/enum/typedef definitions) and the doc comment above
// each, and parses the comment's eunomia-bpf tags (@cmdarg, @sample, @brief,
// @details, @version, ...).
//
// # Doc comments
//
// A doc comment is a run of `///` lines or a `/** ... */` block (`//!` and
// `/*! ... */` are accepted too, as clang does). `////...` and `/***...`
// banners, `/**/`, and trailing comments (`///<`, `/**<`) are ordinary
// comments. Consecutive doc comments with nothing but whitespace between them
// and no blank line form one comment.
//
// A doc comment belongs to the next file-scope declaration when only
// whitespace and ordinary comments separate them. Unlike clang, which
// tolerates blank lines there, a blank line breaks the attachment (as in Go):
// a comment followed by an empty line documents nothing, so licence headers
// and section banners never leak into the metadata. A preprocessor line in
// between also breaks it (clang agrees). An ordinary comment between two doc
// comments ends the first one: the later doc comment wins.
//
// Doc comments inside function bodies, struct bodies and initialisers, or in
// the middle of a declaration (say between SEC("...") and the function it
// decorates), are ignored, and so are comments that document nothing. Only
// attached comments are parsed, so only they can produce tag errors.
//
// # Declarations
//
// The declaration a comment documents starts at its first token: the
// `struct {` of a BTF map, the SEC("...") line above a program. Decl.Line is
// the line of the declared name, as clang reports a declaration's location.
//
//   - `struct { ... } name SEC(".maps");` and legacy
//     `struct bpf_map_def SEC("maps") name = {...};` are maps.
//   - A function with a SEC("...") is a program; `int BPF_PROG(name, ...)`,
//     BPF_KPROBE, BPF_URETPROBE and any other all-caps `BPF_*(` wrapper are
//     named after their first argument. Functions without a section (static
//     inline helpers, prototypes, __ksym kfuncs) are Func.
//   - The variable in section "license" (or named LICENSE) is License; its
//     comment documents the whole program.
//   - Other variables are Var, whatever their attributes, initialisers or
//     sections; each declarator of `int a, b;` is reported, sharing the doc.
//     The name is the declarator's last identifier that is not a keyword or
//     a known attribute (__ksym, __kconfig, __hidden, ...), preferring one
//     that does not start with "__"; `(*name)` declarators are understood.
//   - `struct name { ... }` (also union, enum) is a Type named "struct name";
//     a typedef is a Type named after the new type name. Anonymous types and
//     forward declarations are not reported. `typedef struct s {...} s_t;`
//     yields both "struct s" and "s_t".
//   - A file-scope macro invocation without a type, such as
//     `ECC_EXPORT(events, struct event);`, declares nothing. Macros are not
//     expanded: one without a trailing ';' runs into the next declaration.
//
// Section names are taken from SEC("..."), __section("...") and
// __attribute__((section("..."))); adjacent string literals are joined.
//
// # Preprocessor
//
// Directives (continued lines included) are skipped, not evaluated: both
// branches of #if/#else, #if 0 blocks included, are read as code. To survive
// the usual idiom of a brace opened differently in each branch, the brace
// depth at #else/#elif is reset to its value at the #if, and the depth at the
// end of the first branch is kept after #endif. A declaration written in two
// branches is reported twice.
//
// # Tags
//
// After the comment markers (and a leading `*` on block comment lines) are
// stripped, a line starting with `@NAME` (NAME is [A-Za-z_][A-Za-z0-9_]*)
// starts the tag NAME; its value is the rest of that line and the following
// lines up to the next tag or the end of the paragraph (an empty comment
// line), as clang ends a command at a paragraph break. A `@` anywhere else
// is text, so JSON values and e-mail addresses may contain one; backslash
// commands (\brief) are not recognised. Text outside tags is the
// description: the lines of a paragraph are joined by a space, paragraphs
// by "\n". `@description` adds a paragraph to the description instead of a
// tag.
//
// Tag values are stored as JSON:
//   - @cmdarg and @sample must be JSON objects (possibly spread over several
//     lines); anything else is an *Error naming the file and line of the
//     offending text, e.g. "x.bpf.c:12: @cmdarg: invalid JSON: ...".
//   - Text tags that clang treats as block commands (@brief, @details,
//     @version, @author, @note, @see, ...) are always strings, lines joined
//     by a space, as eunomia-bpf stores them.
//   - Any other tag is kept as JSON when its text is valid JSON (compacted),
//     else as a string; a tag with no text is `true`.
//
// A tag given twice keeps its last value.
package doccomment
