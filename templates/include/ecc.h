/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ecc.h - helpers for BPF programs built with `ecc build`.
 *
 * Doc-comment conventions read by ecc's metadata extractor
 * (`///` lines, or a doc block opened with slash-star-star, directly above a
 * global):
 *
 *   /// text                          description of the global (map, flag,
 *                                     program) shown by `ecli run --help`
 *   /// @cmdarg {"default": 0, "short": "p", "long": "pid"}
 *                                     above a `const volatile` global: expose
 *                                     it as a command-line flag; the JSON may
 *                                     also carry "help"; the C initialiser
 *                                     should equal "default"
 *   /// @sample {"interval": 1000, "type": "log2_hist", "unit": "usecs",
 *   ///          "clear_map": false}
 *                                     above a map: dump it every interval ms;
 *                                     type is log2_hist | linear_hist |
 *                                     default_kv
 *   /// @brief ... / @details ... / @version 0.1.0
 *                                     above `char LICENSE[]`: one-line summary,
 *                                     longer text and version of the tool
 *
 * Event export: a ring buffer or perf event array map needs to be tied to the
 * C type of the records it carries.  Either pass an export header to
 * `ecc build` (every struct in it is exported), or bind the type here with
 * ECC_EXPORT(map, type) at file scope.
 */
#ifndef __ECC_H
#define __ECC_H

/*
 * ECC_EXPORT(map, type) - declare that records in `map` have C type `type`.
 *
 *     ECC_EXPORT(events, struct event);
 *
 * expands to an unused global pointer,
 *
 *     struct event *__ecc_export__events __attribute__((unused));
 *
 * which keeps the type in the object's BTF even if the program only ever
 * writes raw bytes.  The metadata extractor matches the `__ecc_export__`
 * prefix (and eunomia's `__eunomia_dummy_<struct>_ptr` spelling), takes the
 * map name from the suffix and the record type from the pointee.
 */
#define ECC_EXPORT(map, type) type *__ecc_export__##map __attribute__((unused))

#endif /* __ECC_H */
