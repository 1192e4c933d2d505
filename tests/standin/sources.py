"""Source code of the stand-in programs compiled into the release.

Versions are not baked into the text: they are passed with ``-D`` at compile time.
"""

from __future__ import annotations

# Falco's real binaries are built against an old glibc so they run on older
# distributions (e.g. bullseye's glibc 2.31). A host toolchain with glibc >= 2.34
# makes every program depend on ``__libc_start_main@GLIBC_2.34``. This shim gives
# the program its own hidden ``__libc_start_main`` (called by the normal crt1
# start-up code) that forwards to the oldest symbol version, and runs the ELF
# constructors itself, which both old and new glibc accept for a legacy caller.
GLIBC_COMPAT_C = r"""
#include <stddef.h>

typedef int (*standin_main_fn)(int, char **, char **);
typedef void (*standin_init_fn)(int, char **, char **);

extern standin_init_fn __preinit_array_start[] __attribute__((visibility("hidden")));
extern standin_init_fn __preinit_array_end[] __attribute__((visibility("hidden")));
extern standin_init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern standin_init_fn __init_array_end[] __attribute__((visibility("hidden")));

#define STANDIN_STR2(x) #x
#define STANDIN_STR(x) STANDIN_STR2(x)
__asm__(".symver standin_legacy_start_main, __libc_start_main@" STANDIN_STR(GLIBC_BASE_VERSION));

extern int standin_legacy_start_main(standin_main_fn, int, char **, standin_init_fn,
                                     void (*)(void), void (*)(void), void *);

static void standin_run_constructors(int argc, char **argv, char **envp) {
    size_t n = (size_t)(__preinit_array_end - __preinit_array_start);
    for (size_t i = 0; i < n; i++) __preinit_array_start[i](argc, argv, envp);
    n = (size_t)(__init_array_end - __init_array_start);
    for (size_t i = 0; i < n; i++) __init_array_start[i](argc, argv, envp);
}

__attribute__((visibility("hidden"))) int __libc_start_main(
    standin_main_fn main_fn, int argc, char **argv, void (*init)(void), void (*fini)(void),
    void (*rtld_fini)(void), void *stack_end) {
    (void)init;
    (void)fini;
    return standin_legacy_start_main(main_fn, argc, argv, standin_run_constructors, NULL,
                                     rtld_fini, stack_end);
}
"""

FALCO_CPP = r"""
#include <iostream>
#include <string>
#include <vector>

#ifndef FALCO_VERSION
#error "FALCO_VERSION must be defined"
#endif
#ifndef DRIVER_VERSION
#error "DRIVER_VERSION must be defined"
#endif

namespace {

const std::string kVersion = FALCO_VERSION;

void print_version() {
    std::cout << "Falco version: " << kVersion << "\n"
              << "Libs version: 0.20.0\n"
              << "Plugin API: 3.10.0\n"
              << "Engine: 0.50.0\n"
              << "Driver:\n"
              << "  API version: 8.0.0\n"
              << "  Schema version: 3.60.0\n"
              << "  Default driver: " << DRIVER_VERSION << "\n";
}

void print_help() {
    std::cout << "Falco - Cloud Native Runtime Security (stand-in " << kVersion << ")\n"
              << "Usage:\n"
              << "  falco [OPTION...]\n\n"
              << "  -c <path>      Configuration file (default /etc/falco/falco.yaml)\n"
              << "  -h, --help     Print this help and exit\n"
              << "      --version  Print version information and exit\n";
}

}  // namespace

int main(int argc, char **argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    for (const std::string &arg : args) {
        if (arg == "--version") {
            print_version();
            return 0;
        }
        if (arg == "--help" || arg == "-h") {
            print_help();
            return 0;
        }
    }
    std::cout << "Falco stand-in " << kVersion << std::endl;
    return 0;
}
"""

FALCOCTL_C = r"""
#include <stdio.h>
#include <string.h>

#ifndef FALCOCTL_VERSION
#error "FALCOCTL_VERSION must be defined"
#endif

static void usage(FILE *out) {
    fputs("falcoctl (stand-in " FALCOCTL_VERSION "): the official CLI tool for working with Falco\n"
          "\n"
          "Usage:\n"
          "  falcoctl [command]\n"
          "\n"
          "Available Commands:\n"
          "  artifact    Interact with Falco artifacts\n"
          "  driver      Interact with falcosecurity driver\n"
          "  version     Print the falcoctl version information\n",
          out);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "version") == 0) {
        puts("falcoctl version " FALCOCTL_VERSION);
        return 0;
    }
    usage(stdout);
    return 0;
}
"""

PLUGIN_C = r"""
/* A minimal shared object in the place of the bundled container plugin. */
const char *plugin_get_required_api_version(void) { return "3.10.0"; }
const char *plugin_get_name(void) { return "container"; }
const char *plugin_get_version(void) { return "0.0.0-standin"; }
"""

HELLO_C = r"""
#include <stdio.h>
#include <string.h>

#ifndef HELLO_VERSION
#error "HELLO_VERSION must be defined"
#endif

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        puts("hello " HELLO_VERSION);
        return 0;
    }
    puts("hello, world");
    return 0;
}
"""
