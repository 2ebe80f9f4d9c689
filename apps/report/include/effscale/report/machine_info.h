#pragma once
// A one-line description of the machine a report was made on.

#include <string>

namespace effscale::report {

// "AMD EPYC 7B13 (2 cores), 23.5 GiB memory, Debian GNU/Linux 12 (bookworm), LibTorch 1.13.0": the CPU
// model and online cores, physical memory, the OS's PRETTY_NAME, and the LibTorch version compiled
// against. Parts that cannot be read are left out; never throws.
std::string describe_machine();

}  // namespace effscale::report
