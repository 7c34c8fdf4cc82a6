// lava-server: `lava-server manage ...` and `lava-server serve`.

#include "server/web/cli.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    return lava::server::web::run_cli(args, std::cout, std::cerr);
}
