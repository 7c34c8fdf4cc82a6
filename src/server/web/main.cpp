// lava-server: the lava-cpp server. Today it carries `lava-server manage`;
// `lava-server serve` (HTTP: REST, XML-RPC, worker API) joins it later.

#include "server/manage/manage.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv, argv + argc);
    return lava::server::manage::run(args, std::cout, std::cerr);
}
