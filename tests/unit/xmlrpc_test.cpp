#include "common/xmlrpc/value.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>

namespace lava::common::xmlrpc {
namespace {

MethodCall call_of(std::string_view xml) {
    auto r = parse_call(xml);
    if (auto* f = std::get_if<Fault>(&r)) ADD_FAILURE() << f->code << " " << f->message;
    return std::get<MethodCall>(r);
}

Fault fault_of(std::string_view xml) {
    auto r = parse_call(xml);
    EXPECT_TRUE(std::holds_alternative<Fault>(r)) << xml;
    return std::holds_alternative<Fault>(r) ? std::get<Fault>(r) : Fault{};
}

Value sample() {
    Value s;
    s.set("int", 42).set("big", std::int64_t{1} << 40).set("neg", -7).set("yes", true).set("no", false);
    s.set("pi", 3.25).set("nil", Nil{}).set("text", "a < b & c > d\r\nnext\ttab");
    s.set("utf8", "caf\xc3\xa9 \xe2\x9c\x93").set("when", DateTime{"20230131T12:34:56"});
    s.set("bytes", Binary{std::string("\0\x01\xff binary", 10)});
    s.set("list", Array{1, "two", Array{}, Value(Struct{})});
    return s;
}

TEST(XmlRpc, WrittenCallsParseBackToTheSameValues) {
    const MethodCall call{"scheduler.jobs.submit", {sample(), "", 0}};
    const auto back = call_of(write_call(call));
    EXPECT_EQ(back.method, call.method);
    ASSERT_EQ(back.params.size(), 3u);
    EXPECT_EQ(back.params[0], call.params[0]);
    EXPECT_EQ(back.params[1], Value(""));
}

TEST(XmlRpc, ResponsesAndFaultsRoundTrip) {
    auto v = parse_response(write_response(sample()));
    ASSERT_TRUE(std::holds_alternative<Value>(v));
    EXPECT_EQ(std::get<Value>(v), sample());
    auto f = parse_response(write_fault({404, "Job '7' was not found."}));
    ASSERT_TRUE(std::holds_alternative<Fault>(f));
    EXPECT_EQ(std::get<Fault>(f).code, 404);
    EXPECT_EQ(std::get<Fault>(f).message, "Job '7' was not found.");
}

TEST(XmlRpc, ReadsWhatOtherClientsWrite) {
    const auto c = call_of(R"(<?xml version="1.0"?>
<methodCall><methodName> system.listMethods </methodName>
<params>
 <param><value>untyped &amp; plain</value></param>
 <param><value><i4> +12 </i4></value></param>
 <param><value><string>   </string></value></param>
 <param><value></value></param>
 <param><value><ex:nil/></value></param>
 <param><value><base64>Zm9v
YmFy</base64></value></param>
 <param><value><struct><member><value><int>1</int></value><name>k</name></member></struct></value></param>
 <param><value><string><![CDATA[<raw>]]></string></value></param>
</params></methodCall>)");
    EXPECT_EQ(c.method, "system.listMethods");
    ASSERT_EQ(c.params.size(), 8u);
    EXPECT_EQ(c.params[0], Value("untyped & plain"));
    EXPECT_EQ(c.params[1], Value(12));
    EXPECT_EQ(c.params[2], Value("   "));
    EXPECT_EQ(c.params[3], Value(""));
    EXPECT_TRUE(c.params[4].is_nil());
    EXPECT_EQ(c.params[5], Value(Binary{"foobar"}));
    EXPECT_EQ(*c.params[6].find("k"), Value(1));
    EXPECT_EQ(c.params[7], Value("<raw>"));
    EXPECT_TRUE(call_of("<methodCall><methodName>x</methodName></methodCall>").params.empty());
}

TEST(XmlRpc, MalformedXmlIsAParseError) {
    for (const char* xml : {"", "<methodCall>", "not xml", "<methodCall><methodName>x</methodName></methodCal>",
                            "<a></b>", "\xff\xfe<"}) {
        EXPECT_EQ(fault_of(xml).code, kParseError) << xml;
    }
}

TEST(XmlRpc, WellFormedButWrongIsAnInvalidRequest) {
    for (const char* xml : {
             "<methodResponse/>",
             "<methodCall/>",
             "<methodCall><methodName></methodName></methodCall>",
             "<methodCall><methodName>x</methodName><params><value>1</value></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><int>1.5</int></value></param>"
             "</params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><int>99999999999999999999</int>"
             "</value></param></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><boolean>yes</boolean></value>"
             "</param></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><base64>***</base64></value>"
             "</param></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><float>1</float></value>"
             "</param></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name>"
             "</member></struct></value></param></params></methodCall>",
             "<methodCall><methodName>x</methodName><params><param><value><int>1</int><int>2</int></value>"
             "</param></params></methodCall>",
         }) {
        EXPECT_EQ(fault_of(xml).code, kInvalidRequest) << xml;
    }
}

TEST(XmlRpc, NestingIsLimited) {
    std::string deep = "<methodCall><methodName>x</methodName><params><param><value>";
    for (int i = 0; i < 100; ++i) deep += "<array><data><value>";
    deep += "1";
    for (int i = 0; i < 100; ++i) deep += "</value></data></array>";
    deep += "</value></param></params></methodCall>";
    const auto f = fault_of(deep);
    EXPECT_EQ(f.code, kInvalidRequest);
    EXPECT_NE(f.message.find("nested deeper than 64"), std::string::npos) << f.message;
    EXPECT_EQ(std::get<MethodCall>(parse_call(deep, Limits{200})).params.size(), 1u);
}

TEST(XmlRpc, EntitiesFromADoctypeAreNotExpanded) {
    const auto c = call_of(R"(<?xml version="1.0"?>
<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<methodCall><methodName>x</methodName><params><param><value>&b;</value></param></params></methodCall>)");
    ASSERT_EQ(c.params.size(), 1u);
    EXPECT_LT(c.params[0].as_string().size(), 10u);
}

TEST(XmlRpc, TextXmlCannotCarryIsReplacedNotEmitted) {
    const std::string bad("ctrl\x01 invalid\xff end", 18);
    const std::string xml = write_response(Value(bad));
    EXPECT_EQ(xml.find('\x01'), std::string::npos);
    const auto v = std::get<Value>(parse_response(xml));
    EXPECT_EQ(v.as_string(), "ctrl\xef\xbf\xbd invalid\xef\xbf\xbd end");
}

// Found by fuzz.xmlrpc: names that differ only in bytes XML cannot carry are
// the same name once read, so a decoded call writes and reads back stably.
TEST(XmlRpc, TextIsCleanedWhenRead) {
    const std::string xml =
        "<methodCall><methodName>a\x05" "b</methodName><params><param><value><struct>"
        "<member><name>k\x93</name><value><int>1</int></value></member>"
        "<member><name>k\x94</name><value><int>2</int></value></member>"
        "</struct></value></param></params></methodCall>";
    const auto c = call_of(xml);
    EXPECT_EQ(c.method, "a\xef\xbf\xbd" "b");
    ASSERT_EQ(c.params[0].as_struct().size(), 1u);
    EXPECT_EQ(*c.params[0].find("k\xef\xbf\xbd"), Value(2));
    const std::string once = write_call(c);
    EXPECT_EQ(write_call(call_of(once)), once);
}

// Python's xmlrpc.client (what lavacli uses) reads what we write, to the same values.
TEST(XmlRpc, PythonReadsOurResponses) {
    const std::string path = ::testing::TempDir() + "xmlrpc_response.xml";
    {
        std::ofstream(path, std::ios::binary) << write_response(sample());
    }
    const std::string cmd =
        "/usr/bin/python3 -c \"import sys, xmlrpc.client as x; (v,), _ = x.loads(open(sys.argv[1], 'rb').read()); "
        "print(repr(sorted((k, (type(w).__name__, str(w) if not isinstance(w, x.Binary) else w.data.hex())) "
        "for k, w in v.items())))\" " + path;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    ASSERT_TRUE(pipe);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, pipe.get())) out += buf;
    EXPECT_EQ(
        out,
        "[('big', ('int', '1099511627776')), ('bytes', ('Binary', '0001ff2062696e617279')), "
        "('int', ('int', '42')), ('list', ('list', \"[1, 'two', [], {}]\")), ('neg', ('int', '-7')), "
        "('nil', ('NoneType', 'None')), ('no', ('bool', 'False')), ('pi', ('float', '3.25')), "
        "('text', ('str', 'a < b & c > d\\r\\nnext\\ttab')), ('utf8', ('str', 'caf\xc3\xa9 \xe2\x9c\x93')), "
        "('when', ('DateTime', '20230131T12:34:56')), ('yes', ('bool', 'True'))]\n");
}

}  // namespace
}  // namespace lava::common::xmlrpc
