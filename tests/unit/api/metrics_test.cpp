#include "api/metrics.hpp"

#include <boost/json/serialize.hpp>

#include <fstream>
#include <sstream>

#include "unit/api/http_api_fixture.hpp"

namespace sb::api::test {
namespace {

namespace json = boost::json;

// Every figure of the table, with its value as /metrics prints it.
struct Figure {
  std::string field, series, kind, help, value;
  unsigned shown;
};
std::vector<Figure> table(const Stats& s) {
  std::vector<Figure> out;
#define SB_TEST_FIGURE(type, field, series, kind, shown, help) \
  out.push_back(Figure{#field, series, #kind, help, std::to_string(s.field), shown});
  SB_API_STATS(SB_TEST_FIGURE)
#undef SB_TEST_FIGURE
  return out;
}

TEST_F(HttpApiTest, MetricsListEveryFigureWithItsHelpAndType) {
  const auto r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  std::string expected;
  for (const auto& f : table(figures)) {
    expected += "# HELP switchboard_" + f.series + " " + f.help + "\n";
    expected += "# TYPE switchboard_" + f.series + " " + f.kind + "\n";
    expected += "switchboard_" + f.series + " " + f.value + "\n";
  }
  EXPECT_EQ(r.body, expected);
  // Spot checks against the table itself: names, values, types as the docs show them.
  EXPECT_NE(r.body.find("\nswitchboard_socket_writes_total 1009\n"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE switchboard_connections gauge\nswitchboard_connections 1001\n"), std::string::npos);
  EXPECT_NE(r.body.find("\nswitchboard_uptime_seconds 12.750000\n"), std::string::npos);
}

// docs/http-api.md's table of series lists every one, with its type.
TEST_F(HttpApiTest, EveryFigureIsInTheMetricsTableOfTheDocs) {
  std::ifstream file(std::string(SWITCHBOARD_SOURCE_DIR) + "/docs/http-api.md");
  std::stringstream docs;
  docs << file.rdbuf();
  for (const auto& f : table(figures))
    EXPECT_NE(docs.str().find("| `switchboard_" + f.series + "` | " + f.kind + " |"), std::string::npos) << f.series;
}

TEST_F(HttpApiTest, StatsShowTheFiguresMarkedForThem) {
  const auto r = call("GET", "/api/stats");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            R"({"connections":1001,"connections_total":1002,"subscriptions":1003,"channels":1004,"messages_in":1005,)"
            R"("messages_out":1006,"bytes_in":1007,"bytes_out":1008,"slow_consumers":1010,"sse_connections":1036,)"
            R"("uptime_seconds":12})");
  const json::object body = json_of(r).as_object();
  for (const auto& f : table(figures)) EXPECT_EQ(body.contains(f.field), (f.shown & in_stats_json) != 0) << f.field;
}

TEST_F(HttpApiTest, StatsOfTheClusterOfOneSumThisNode) {
  const json::object body = json_of(call("GET", "/api/stats?scope=cluster")).as_object();
  EXPECT_EQ(body.at("connections"), 1001);
  EXPECT_FALSE(body.contains("uptime_seconds"));  // a sum of uptimes means nothing
  EXPECT_EQ(body.at("scope"), "cluster");
  EXPECT_EQ(body.at("nodes_answered"), 1);
  EXPECT_EQ(body.at("nodes").at(0).at("node"), "");
  EXPECT_EQ(body.at("nodes").at(0).at("uptime_seconds"), 12);
  EXPECT_EQ(call("GET", "/api/stats?scope=x").status, 400);
}

TEST_F(HttpApiTest, NodeInfoShowsWhereTheNodeListensAndItsFiguresForNodes) {
  EXPECT_EQ(node_info_json(figures, "127.0.0.1:8080"),
            R"({"listen":"127.0.0.1:8080","connections":1001,"subscriptions":1003,"channels":1004,"uptime_seconds":12})");
  const auto nodes = json_of(call("GET", "/api/nodes"));
  const auto& self = nodes.at("nodes").at(0);
  EXPECT_EQ(self.at("node"), "");
  EXPECT_EQ(self.at("self"), true);
  EXPECT_EQ(json::serialize(self.at("info")),
            R"({"connections":1001,"subscriptions":1003,"channels":1004,"uptime_seconds":12})");
}

}  // namespace
}  // namespace sb::api::test
