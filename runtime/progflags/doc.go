// Package progflags turns the global variables of a BPF program into
// command-line flags, as eunomia-bpf's ecli does: `ecli run PACKAGE
// [PROGRAM FLAGS...]`.
//
//	set, err := progflags.New(meta, spec) // spec: loaded, not yet created
//	...
//	switch err := set.Parse(programArgs); {
//	case errors.Is(err, progflags.ErrHelp):
//		set.WriteHelp(os.Stdout, "ecli run "+pkg)
//		return nil
//	case err != nil:
//		return err
//	}
//	if err := set.Apply(spec); err != nil { ... }
//	coll, err := ebpf.NewCollection(spec)
//
// # Flags
//
// Every variable of every data section of the metadata (.rodata, .data,
// .bss, .rodata.x, .data.x) is a flag, except those ecc and eunomia inject
// (__ecc_*, __eunomia_dummy*) and .kconfig externs. Its long name is
// @cmdarg long, else the variable's name (--targ_pid, as eunomia); in
// long names - and _ are interchangeable, so --targ-pid works too. @cmdarg
// short adds a one-character short name. Two globals with the same long
// name (dashes and underscores alike) or the same short name are an error
// of [New]. --help is reserved; -h is help unless a global claims it.
//
// Types come from the object's BTF, not from the metadata's type string:
// typedefs and qualifiers are followed, so a pid2_t that is a typedef of a
// typedef of u32 is a u32.
//
// # Command line
//
// --name VALUE, --name=VALUE, -s VALUE, -sVALUE and -s=VALUE. Short bool
// flags cluster: -va is -v -a, and -vp5 is -v -p 5. A separate VALUE may
// not begin with - unless it is a negative number (-5, -0x10, -.5); write
// --name=-x for such values. -- ends the flags and nothing may follow it.
// A positional argument is an error, as is an unknown flag, for which the
// error suggests the flag of the global of that name (when @cmdarg long
// renamed it) or the most similar flag name, by the measure ecli's own
// flags use (Jaro-Winkler, as urfave/cli computes it). A flag
// given twice keeps its last value.
//
// Values, by the variable's type:
//
//   - Integers of 1, 2, 4, 8 and 16 bytes: decimal, 0x hex, 0o or 0 octal,
//     0b binary, with a sign (- only for signed types) and Go-style _
//     separators; range-checked against the type's width. A 1-byte integer
//     (char, u8, s8) also takes a single character: --sep=x. A digit is a
//     number, not a character.
//   - bool: --name alone sets true; --name=VALUE takes true, false, 1, 0,
//     yes or no (any case). As in eunomia, --enable-name sets true and
//     --disable-name sets false (both always work, whatever the default).
//     A bool flag never takes the next argument as its value.
//   - char[N], signed char[N], unsigned char[N] (the element written as a
//     char type, not a typedef such as u8): a string of at most N-1 bytes,
//     NUL-terminated and zero-filled.
//   - enums of any width and signedness: an enumerator name (exact case,
//     else any case when only one enumerator matches) or a number in the
//     enum's range. A number needs no enumerator of its own.
//   - float and double: strconv.ParseFloat with 32 or 64 bits (so inf,
//     nan and hex floats work).
//   - arrays of integers, bools, enums or floats, including typedefs such
//     as u8[4]: a comma-separated list of at most N elements, the rest
//     zero; "" zeroes the array. Arrays of arrays of these are flattened in
//     row-major order (int m[2][3] takes up to 6 values).
//
// Structs, unions, pointers, arrays of strings and of structs, and
// variables without BTF are not settable: their flags are listed in the
// help, marked "(cannot be set)", and giving one is an error ("--cfg:
// struct config cannot be set from the command line"). Listing them keeps
// every global visible, as eunomia's ecli does.
//
// # Defaults
//
// A variable's initial value is its bytes in the object. A @cmdarg
// "default" (JSON: a number, bool or string parsed like a command-line
// value, or an array for arrays) wins over it, as in eunomia: when the two
// differ, [Set.Apply] writes the default even if the flag is not given.
// The metadata's "value" field is not used; the object's bytes are the
// truth. Help prints the default that applies.
//
// [Set.Apply] writes, through [ebpf.VariableSpec.Set] in native byte
// order, only the flags given and the defaults that differ; other
// variables keep the object's bytes.
package progflags
