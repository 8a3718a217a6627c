// sb-loadgen: a single-threaded epoll load generator for Switchboard and its peers.
//
// One thread, raw non-blocking sockets, its own RFC 6455 client framing. It opens
// subscriber and publisher connections, publishes stamped payloads (send time in ns and a
// sequence number) either at a fixed rate (open loop) or as fast as the server delivers with
// a bounded window of outstanding deliveries (closed loop), and reports publish-to-receipt
// latency, throughput, loss, server memory and CPU as one JSON object on stdout.
// Run `sb-loadgen --help` for the flags; bench/run.sh drives it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"
#include "protocol.hpp"
#include "util.hpp"
#include "ws.hpp"

namespace sbload {
namespace {

enum class Dialect { Switchboard, Ws, SocketIo, Nats };
enum class Role : uint8_t { Sub, WsPub, HttpPub };
enum class St : uint8_t { Unstarted, Connecting, Upgrading, Opening, Subscribing, Ready, Closed };
enum class Phase { Connect, Warmup, Measure, Hold, Sample, Drain, Done };

const char* dialect_name(Dialect d) {
  switch (d) {
    case Dialect::Switchboard: return "switchboard";
    case Dialect::Ws: return "ws";
    case Dialect::SocketIo: return "socketio";
    case Dialect::Nats: return "nats";
  }
  return "?";
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int port2 = 0;  // a second node: subscribers alternate between port and port2
  Dialect dialect = Dialect::Switchboard;
  std::string path;  // websocket path; empty = the dialect's default
  uint32_t channels = 1;
  uint32_t subs_per_channel = 1;
  uint32_t publishers = 1;
  bool http_publish = false;
  bool rate_max = true;
  double rate = 0;  // publishes per second (open loop)
  uint64_t window = 0;  // outstanding deliveries (closed loop); 0 = default
  size_t payload = 100;
  double duration = 5;
  double warmup = 1;
  double drain = 3;
  uint32_t idle = 0;  // idle mode: N connections, one channel each
  uint32_t sample = 100;
  std::string prefix = "bench.";
  uint32_t connect_concurrency = 200;
  double connect_timeout = 120;
  uint32_t src_addrs = 254;
  std::vector<int> server_pids;  // a cluster's processes (nodes, broker): CPU and RSS are summed
  bool quiet = false;
};

// Which node (0: --port, 1: --port2) subscriber connection i uses. Subscriber i is on channel
// i % channels, so alternating on i / channels splits every channel's subscribers evenly
// across the two nodes (alternating on i would put each channel on one node when the channel
// count is even); with one subscriber per channel (idle mode), whole channels alternate.
uint8_t node_of(uint32_t i, uint32_t channels, uint32_t subs_per_channel) {
  const uint32_t k = subs_per_channel > 1 ? i / std::max<uint32_t>(1, channels) : i;
  return static_cast<uint8_t>(k % 2);
}

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: sb-loadgen --port N [options]\n"
               "  --host ADDR               server address (default 127.0.0.1)\n"
               "  --port N                  server port (required)\n"
               "  --port2 N                 a second node of the same cluster: subscribers alternate\n"
               "                            between --port and --port2, publishers use --port\n"
               "  --dialect D               switchboard | ws | socketio | nats (default switchboard)\n"
               "  --path P                  websocket path (default /ws, socket.io's, or / for nats)\n"
               "  --channels C              channels (default 1)\n"
               "  --subs-per-channel S      subscriber connections per channel (default 1)\n"
               "  --publishers P            publisher connections, round-robin over channels (default 1)\n"
               "  --publish-via ws|http     publish over WebSocket or POST /api/publish (switchboard only)\n"
               "  --rate R|max              publishes/s (open loop) or max (closed loop, default)\n"
               "  --window N                closed loop: max outstanding deliveries (default 10000, at least S)\n"
               "  --payload BYTES           payload size (default 100)\n"
               "  --duration SECS           measurement (or idle hold) time (default 5)\n"
               "  --warmup SECS             publishing before the measurement (default 1)\n"
               "  --drain SECS              max wait for outstanding deliveries at the end (default 3)\n"
               "  --idle N                  idle mode: N connections, each on its own channel\n"
               "  --sample K                idle mode: channels that get one message at the end (default 100)\n"
               "  --channel-prefix P        channel name prefix (default bench.)\n"
               "  --connect-concurrency N   connections being set up at once (default 200)\n"
               "  --connect-timeout SECS    give up connecting after this long (default 120)\n"
               "  --src-addrs N             bind sources round-robin over 127.0.0.1..N (default 254, 0 = off)\n"
               "  --server-pid PID[,PID..]  read the server's RSS and CPU time from /proc (several:\n"
               "                            a cluster's processes, summed, and per process in *_by_pid)\n"
               "  --quiet                   no progress on stderr\n"
               "  --self-test               run the built-in unit checks and exit\n");
  std::exit(code);
}

double parse_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(v.c_str(), &end);
  if (errno || end == v.c_str() || *end || !(d >= 0)) {
    std::fprintf(stderr, "sb-loadgen: bad value for %s: '%s'\n", flag.c_str(), v.c_str());
    std::exit(2);
  }
  return d;
}

uint64_t parse_uint(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long u = std::strtoull(v.c_str(), &end, 10);
  if (errno || end == v.c_str() || *end || v[0] == '-') {
    std::fprintf(stderr, "sb-loadgen: bad value for %s: '%s'\n", flag.c_str(), v.c_str());
    std::exit(2);
  }
  return u;
}

uint32_t parse_u32(const std::string& flag, const std::string& v) {
  const uint64_t u = parse_uint(flag, v);
  if (u > 0xFFFFFFFFull) {
    std::fprintf(stderr, "sb-loadgen: value too large for %s\n", flag.c_str());
    std::exit(2);
  }
  return static_cast<uint32_t>(u);
}

int self_test();

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    bool has_v = false;
    if (const auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_v = true;
    }
    auto val = [&]() -> std::string {
      if (has_v) return v;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "sb-loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") usage(0);
    else if (a == "--self-test") std::exit(self_test());
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--host") o.host = val();
    else if (a == "--port") o.port = static_cast<int>(parse_uint(a, val()));
    else if (a == "--port2") {
      o.port2 = static_cast<int>(parse_uint(a, val()));
      if (o.port2 <= 0 || o.port2 > 65535) {
        std::fprintf(stderr, "sb-loadgen: bad value for --port2\n");
        std::exit(2);
      }
    }
    else if (a == "--dialect") {
      const std::string d = val();
      if (d == "switchboard") o.dialect = Dialect::Switchboard;
      else if (d == "ws") o.dialect = Dialect::Ws;
      else if (d == "socketio" || d == "socket.io") o.dialect = Dialect::SocketIo;
      else if (d == "nats") o.dialect = Dialect::Nats;
      else {
        std::fprintf(stderr, "sb-loadgen: unknown dialect '%s'\n", d.c_str());
        std::exit(2);
      }
    } else if (a == "--path") o.path = val();
    else if (a == "--channels") o.channels = parse_u32(a, val());
    else if (a == "--subs-per-channel") o.subs_per_channel = parse_u32(a, val());
    else if (a == "--publishers") o.publishers = parse_u32(a, val());
    else if (a == "--publish-via") {
      const std::string p = val();
      if (p == "http") o.http_publish = true;
      else if (p == "ws") o.http_publish = false;
      else {
        std::fprintf(stderr, "sb-loadgen: --publish-via is ws or http\n");
        std::exit(2);
      }
    } else if (a == "--rate") {
      const std::string r = val();
      if (r == "max") o.rate_max = true;
      else {
        o.rate_max = false;
        o.rate = parse_double(a, r);
        if (o.rate <= 0) {
          std::fprintf(stderr, "sb-loadgen: --rate must be > 0 or max\n");
          std::exit(2);
        }
      }
    } else if (a == "--window") o.window = parse_uint(a, val());
    else if (a == "--payload") o.payload = parse_uint(a, val());
    else if (a == "--duration") o.duration = parse_double(a, val());
    else if (a == "--warmup") o.warmup = parse_double(a, val());
    else if (a == "--drain") o.drain = parse_double(a, val());
    else if (a == "--idle") o.idle = parse_u32(a, val());
    else if (a == "--sample") o.sample = parse_u32(a, val());
    else if (a == "--channel-prefix") o.prefix = val();
    else if (a == "--connect-concurrency") o.connect_concurrency = std::max<uint32_t>(1, parse_u32(a, val()));
    else if (a == "--connect-timeout") o.connect_timeout = parse_double(a, val());
    else if (a == "--src-addrs") o.src_addrs = std::min<uint32_t>(254, parse_u32(a, val()));
    else if (a == "--server-pid") {
      o.server_pids.clear();
      std::stringstream list(val());
      for (std::string pid; std::getline(list, pid, ',');) {
        const uint64_t n = parse_uint(a, pid);
        if (n > 0) o.server_pids.push_back(static_cast<int>(n));
      }
    }
    else {
      std::fprintf(stderr, "sb-loadgen: unknown argument '%s'\n", a.c_str());
      usage(2);
    }
  }
  if (o.port <= 0 || o.port > 65535) {
    std::fprintf(stderr, "sb-loadgen: --port is required\n");
    usage(2);
  }
  if (o.http_publish && o.dialect != Dialect::Switchboard) {
    std::fprintf(stderr, "sb-loadgen: --publish-via http is only for the switchboard dialect\n");
    std::exit(2);
  }
  if (o.idle == 0 && (o.channels == 0 || o.subs_per_channel == 0 || o.publishers == 0)) {
    std::fprintf(stderr, "sb-loadgen: --channels, --subs-per-channel and --publishers must be >= 1\n");
    std::exit(2);
  }
  if (o.path.empty()) {
    switch (o.dialect) {
      case Dialect::Switchboard:
      case Dialect::Ws: o.path = "/ws"; break;
      case Dialect::SocketIo: o.path = "/socket.io/?EIO=4&transport=websocket"; break;
      case Dialect::Nats: o.path = "/"; break;
    }
  }
  return o;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string fmt_double(double v, int decimals) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- /proc readers ----------------------------------------------------------------------

std::optional<uint64_t> read_rss_kb(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("VmRSS:")) {
      uint64_t kb = 0;
      std::istringstream(line.substr(6)) >> kb;
      return kb;
    }
  }
  return std::nullopt;
}

std::optional<double> read_proc_cpu_s(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(s.substr(rp + 2));
  // Fields after comm: state(3) ppid(4) ... utime(14) stime(15).
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && (in >> tok); ++field) {
    if (field == 14) utime = std::strtoull(tok.c_str(), nullptr, 10);
    if (field == 15) stime = std::strtoull(tok.c_str(), nullptr, 10);
  }
  const long hz = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(hz > 0 ? hz : 100);
}

// Machine-wide CPU seconds from the first line of /proc/stat (all CPUs): `busy` is user +
// nice + system + steal (processes and kernel threads), `irq` is irq + softirq (with
// IRQ time accounting, loopback TCP processing largely lands there).
struct SystemCpu {
  double busy = 0;
  double irq = 0;
};

std::optional<SystemCpu> read_system_cpu() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  unsigned long long v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (!(f >> cpu) || cpu != "cpu") return std::nullopt;
  for (auto& x : v) f >> x;  // user nice system idle iowait irq softirq steal
  const long hz = sysconf(_SC_CLK_TCK);
  const double div = static_cast<double>(hz > 0 ? hz : 100);
  return SystemCpu{static_cast<double>(v[0] + v[1] + v[2] + v[7]) / div, static_cast<double>(v[5] + v[6]) / div};
}

// Sums over a cluster's processes; nothing when any of them cannot be read.
std::optional<uint64_t> read_rss_kb(const std::vector<int>& pids) {
  if (pids.empty()) return std::nullopt;
  uint64_t sum = 0;
  for (const int pid : pids) {
    const auto kb = read_rss_kb(pid);
    if (!kb) return std::nullopt;
    sum += *kb;
  }
  return sum;
}

std::vector<std::optional<double>> read_proc_cpu_s(const std::vector<int>& pids) {
  std::vector<std::optional<double>> out;
  for (const int pid : pids) out.push_back(read_proc_cpu_s(pid));
  return out;
}

std::optional<double> sum_cpu(const std::vector<std::optional<double>>& v) {
  if (v.empty()) return std::nullopt;
  double sum = 0;
  for (const auto& x : v) {
    if (!x) return std::nullopt;
    sum += *x;
  }
  return sum;
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- the load generator ------------------------------------------------------------------

struct Conn {
  int fd = -1;
  Role role = Role::Sub;
  St st = St::Unstarted;
  bool http_busy = false;
  bool close_sent = false;
  uint8_t frag_op = 0;
  uint32_t channel = 0;
  uint8_t node = 0;  // index into the server addresses (0 unless --port2)
  size_t out_off = 0;
  std::array<char, 28> accept{};
  std::string in;      // unparsed input (partial frame, partial HTTP response)
  std::string out;     // output the socket did not take yet
  std::string frag;    // fragmented websocket message being assembled
  std::string stream;  // NATS: partial protocol operation across frames
};

class LoadGen {
 public:
  explicit LoadGen(Options o) : o_(std::move(o)), rng_(now_ns() ^ static_cast<uint64_t>(getpid()) << 32) {
    if (o_.port2) hist_node_.resize(2);
  }

  int run();

 private:
  // setup
  bool setup();
  void start_connection(uint32_t idx, uint64_t now);
  // I/O
  void on_event(uint32_t idx, uint32_t events);
  void do_read(Conn& c, bool until_eof);
  void feed(Conn& c, char* p, size_t n, uint64_t now);
  size_t parse_frames(Conn& c, char* p, size_t n, uint64_t now);
  void on_frame(Conn& c, const ws::FrameHeader& fh, char* payload, size_t len, uint64_t now);
  void on_message(Conn& c, char* p, size_t n, uint64_t now);
  void on_sb_message(Conn& c, std::string_view m, uint64_t now);
  void on_sio_message(Conn& c, std::string_view m, uint64_t now);
  void on_nats_bytes(Conn& c, char* p, size_t n, uint64_t now);
  bool on_nats_op(Conn& c, std::string_view kind, std::string_view line, std::string_view payload, uint64_t now);
  void on_http_bytes(Conn& c, const char* p, size_t n);
  void on_handshake_bytes(Conn& c, char* p, size_t n, uint64_t now);
  void send_bytes(Conn& c, const char* p, size_t n);
  void send_frame(Conn& c, uint8_t op, std::string_view payload);
  void send_text(Conn& c, std::string_view payload) { send_frame(c, ws_data_op(), payload); }
  uint8_t ws_data_op() const { return o_.dialect == Dialect::Nats ? ws::kBinary : ws::kText; }
  void flush(Conn& c);
  void fail(Conn& c, const std::string& why);
  void note_error(const std::string& why);
  // protocol state
  void on_connected(Conn& c);
  void on_open(Conn& c);
  void on_subscribed(Conn& c);
  void on_delivery(const Conn& c, std::string_view data, uint64_t now);
  void on_server_error(std::string_view what);
  // publishing
  std::string channel_name(uint32_t ch) const { return o_.prefix + std::to_string(ch); }
  Conn* next_publisher();
  bool can_publish(const Conn& c) const;
  void publish(Conn& c, uint32_t channel);
  void pump_publishes(uint64_t now);
  uint64_t outstanding() const {
    const uint64_t expected = published_ * expected_per_publish_;
    return expected > received_ ? expected - received_ : 0;
  }
  // phases
  void tick(uint64_t now);
  void begin_publishing(uint64_t now);
  void begin_measure(uint64_t now);
  void end_measure(uint64_t now);
  void begin_sample(uint64_t now);
  void finish(uint64_t now);
  int64_t timeout_ns(uint64_t now) const;
  std::string report() const;
  void log(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

  Options o_;
  Rng rng_;
  int ep_ = -1;
  sockaddr_in server_[2]{};
  std::vector<Conn> conns_;
  uint32_t n_subs_ = 0;
  uint32_t n_pubs_ = 0;
  std::vector<char> rbuf_;
  std::string frame_buf_;
  std::string msg_buf_;
  std::string payload_buf_;
  std::string upgrade_head_[2];

  Phase phase_ = Phase::Connect;
  bool fatal_ = false;
  std::string fatal_msg_;

  // connect phase
  uint32_t next_start_ = 0;
  uint32_t in_progress_ = 0;
  uint32_t ready_ = 0;
  uint64_t t_connect_start_ = 0;
  uint64_t t_connect_end_ = 0;

  // publishing
  uint64_t expected_per_publish_ = 1;
  uint64_t window_ = 0;
  uint64_t published_ = 0;  // == next sequence number
  uint64_t received_ = 0;   // deliveries with a valid stamp of a sequence we sent
  std::vector<uint32_t> recv_by_seq_;
  uint32_t rr_pub_ = 0;
  uint32_t rr_channel_ = 0;
  uint64_t pub_epoch_ = 0;
  uint64_t sched_sent_ = 0;
  uint32_t sample_sent_ = 0;
  uint32_t sample_k_ = 0;

  // measurement
  uint64_t t_phase_end_ = 0;
  uint64_t t_measure_start_ = 0;
  uint64_t t_measure_end_ = 0;
  uint64_t meas_seq_begin_ = UINT64_MAX;
  uint64_t meas_seq_end_ = UINT64_MAX;
  uint64_t publishes_in_window_ = 0;
  uint64_t deliveries_in_window_ = 0;
  uint64_t last_delivery_ns_ = 0;
  Histogram hist_;
  // With --port2: latency and measured deliveries per node of the receiving subscriber.
  std::vector<Histogram> hist_node_;
  uint64_t deliveries_node_[2] = {0, 0};
  double cpu_client_start_ = 0, cpu_client_end_ = 0;
  std::optional<double> cpu_server_start_, cpu_server_end_;
  std::vector<std::optional<double>> cpu_pid_start_, cpu_pid_end_;
  std::optional<SystemCpu> cpu_system_start_, cpu_system_end_;
  uint64_t cpu_t_start_ = 0, cpu_t_end_ = 0;
  std::optional<uint64_t> rss_before_kb_, rss_after_kb_;

  // errors and odd events
  uint64_t connect_failures_ = 0;
  uint64_t disconnects_ = 0;
  uint64_t server_errors_ = 0;
  uint64_t http_errors_ = 0;
  uint64_t http_ok_ = 0;
  uint64_t protocol_errors_ = 0;
  uint64_t bad_deliveries_ = 0;
  uint64_t acks_ = 0;
  uint64_t lost_ = 0;
  uint64_t duplicates_ = 0;
  std::vector<std::string> first_errors_;
};

void LoadGen::log(const char* fmt, ...) const {
  if (o_.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  std::fputs("sb-loadgen: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
}

void LoadGen::note_error(const std::string& why) {
  if (first_errors_.size() < 5) first_errors_.push_back(why);
}

bool LoadGen::setup() {
  signal(SIGPIPE, SIG_IGN);
  const bool idle = o_.idle > 0;
  if (idle) {
    o_.channels = o_.idle;
    o_.subs_per_channel = 1;
    o_.publishers = 1;
  }
  n_subs_ = o_.channels * o_.subs_per_channel;
  if (static_cast<uint64_t>(o_.channels) * o_.subs_per_channel > 2'000'000) {
    fatal_msg_ = "too many connections";
    return false;
  }
  n_pubs_ = o_.publishers;
  const uint64_t total = uint64_t{n_subs_} + n_pubs_;
  expected_per_publish_ = o_.subs_per_channel;
  window_ = o_.window ? o_.window : std::max<uint64_t>(10000, o_.subs_per_channel);

  // File descriptors: raise the soft limit to the hard one.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (total + 32 > rl.rlim_cur) {
    fatal_msg_ = "needs " + std::to_string(total + 32) + " file descriptors, RLIMIT_NOFILE is " +
                 std::to_string(static_cast<unsigned long long>(rl.rlim_cur)) + " (hard " +
                 std::to_string(static_cast<unsigned long long>(rl.rlim_max)) + ")";
    return false;
  }

  const int ports[2] = {o_.port, o_.port2 ? o_.port2 : o_.port};
  for (int k = 0; k < 2; ++k) {
    server_[k].sin_family = AF_INET;
    server_[k].sin_port = htons(static_cast<uint16_t>(ports[k]));
    if (inet_pton(AF_INET, o_.host.c_str(), &server_[k].sin_addr) != 1) {
      fatal_msg_ = "--host must be an IPv4 address: " + o_.host;
      return false;
    }
  }
  // Source-address binding only makes sense towards a loopback server.
  if ((ntohl(server_[0].sin_addr.s_addr) >> 24) != 127) o_.src_addrs = 0;

  ep_ = epoll_create1(EPOLL_CLOEXEC);
  if (ep_ < 0) {
    fatal_msg_ = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  conns_.resize(static_cast<size_t>(total));
  for (uint32_t i = 0; i < n_subs_; ++i) {
    conns_[i].role = Role::Sub;
    conns_[i].channel = i % o_.channels;
    if (o_.port2) conns_[i].node = node_of(i, o_.channels, o_.subs_per_channel);
  }
  for (uint32_t j = 0; j < n_pubs_; ++j) conns_[n_subs_ + j].role = o_.http_publish ? Role::HttpPub : Role::WsPub;
  rbuf_.resize(256 * 1024);

  for (int k = 0; k < 2; ++k) {
    upgrade_head_[k] = "GET " + o_.path + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(ports[k]) +
                       "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "User-Agent: sb-loadgen\r\nSec-WebSocket-Key: ";
  }
  return true;
}

void LoadGen::start_connection(uint32_t idx, uint64_t /*now*/) {
  Conn& c = conns_[idx];
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    c.st = St::Closed;
    ++connect_failures_;
    fatal_ = true;
    fatal_msg_ = std::string("socket: ") + std::strerror(errno);
    return;
  }
  c.fd = fd;
  c.st = St::Connecting;
  ++in_progress_;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (o_.src_addrs > 0) {
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) | (1u + idx % o_.src_addrs));
    src.sin_port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      fail(c, std::string("bind: ") + std::strerror(errno));
      return;
    }
  }
  const sockaddr_in& server = server_[c.node];
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 && errno != EINPROGRESS) {
    fail(c, std::string("connect: ") + std::strerror(errno));
    return;
  }
  // Registered after connect(): edge-triggered EPOLLOUT then reports the connection's outcome.
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u32 = idx;
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    fail(c, std::string("epoll_ctl: ") + std::strerror(errno));
    return;
  }
}

void LoadGen::fail(Conn& c, const std::string& why) {
  if (c.st == St::Closed) return;
  const bool was_ready = c.st == St::Ready;
  if (c.fd >= 0) close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  if (!was_ready && c.st != St::Unstarted) --in_progress_;
  c.st = St::Closed;
  note_error(why);
  if (phase_ == Phase::Connect) {
    ++connect_failures_;
    if (!fatal_) {
      fatal_ = true;
      fatal_msg_ = "connection failed during setup: " + why;
    }
  } else {
    ++disconnects_;
  }
}

void LoadGen::on_event(uint32_t idx, uint32_t events) {
  Conn& c = conns_[idx];
  if (c.st == St::Closed) return;
  if (c.st == St::Connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      fail(c, std::string("connect: ") + std::strerror(err));
      return;
    }
    on_connected(c);
    if (c.st == St::Closed) return;
  } else if (events & EPOLLOUT) {
    flush(c);
    if (c.st == St::Closed) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) do_read(c, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
}

void LoadGen::on_connected(Conn& c) {
  if (c.role == Role::HttpPub) {
    c.st = St::Ready;
    --in_progress_;
    ++ready_;
    return;
  }
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 8) {
    const uint64_t r = rng_.next();
    std::memcpy(nonce + i, &r, 8);
  }
  const std::string key = base64_encode(nonce, sizeof nonce);
  const std::string accept = websocket_accept(key);
  std::memcpy(c.accept.data(), accept.data(), std::min(accept.size(), c.accept.size()));
  std::string req = upgrade_head_[c.node];
  req += key;
  req += "\r\n\r\n";
  c.st = St::Upgrading;
  send_bytes(c, req.data(), req.size());
}

void LoadGen::do_read(Conn& c, bool until_eof) {
  const size_t cap = rbuf_.size();
  for (;;) {
    const ssize_t n = recv(c.fd, rbuf_.data(), cap, 0);
    if (n > 0) {
      feed(c, rbuf_.data(), static_cast<size_t>(n), now_ns());
      if (c.st == St::Closed) return;
      // A short read drained the socket: with edge triggering, new data raises a new event.
      if (static_cast<size_t>(n) < cap && !until_eof) return;
      continue;
    }
    if (n == 0) {
      fail(c, "server closed the connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    fail(c, std::string("recv: ") + std::strerror(errno));
    return;
  }
}

void LoadGen::feed(Conn& c, char* p, size_t n, uint64_t now) {
  if (c.st == St::Upgrading) {
    on_handshake_bytes(c, p, n, now);
    return;
  }
  if (c.role == Role::HttpPub) {
    on_http_bytes(c, p, n);
    return;
  }
  if (c.in.empty()) {
    const size_t used = parse_frames(c, p, n, now);
    if (c.st != St::Closed && used < n) c.in.assign(p + used, n - used);
  } else {
    c.in.append(p, n);
    const size_t used = parse_frames(c, c.in.data(), c.in.size(), now);
    if (c.st != St::Closed) c.in.erase(0, used);
  }
}

void LoadGen::on_handshake_bytes(Conn& c, char* p, size_t n, uint64_t now) {
  c.in.append(p, n);
  const size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > 16384) fail(c, "handshake: response head too large");
    return;
  }
  const std::string_view head(c.in.data(), end + 2);
  if (!(head.starts_with("HTTP/1.1 101") || head.starts_with("HTTP/1.0 101"))) {
    const size_t eol = head.find("\r\n");
    fail(c, "handshake: " + std::string(head.substr(0, eol)));
    return;
  }
  const std::string_view accept = http_header(head, "Sec-WebSocket-Accept");
  if (accept != std::string_view(c.accept.data(), c.accept.size())) {
    fail(c, "handshake: bad Sec-WebSocket-Accept '" + std::string(accept) + "'");
    return;
  }
  c.st = St::Opening;
  std::string rest = c.in.substr(end + 4);
  c.in.clear();
  c.in.shrink_to_fit();
  if (!rest.empty()) feed(c, rest.data(), rest.size(), now);
}

size_t LoadGen::parse_frames(Conn& c, char* p, size_t n, uint64_t now) {
  size_t off = 0;
  while (off < n) {
    ws::FrameHeader fh;
    const int r = ws::parse_header(reinterpret_cast<const uint8_t*>(p + off), n - off, fh);
    if (r < 0) {
      ++protocol_errors_;
      fail(c, "protocol: bad websocket frame header");
      return off;
    }
    if (r == 0 || n - off - fh.header_len < fh.payload_len) {
      if (fh.payload_len > (uint64_t{64} << 20)) {
        ++protocol_errors_;
        fail(c, "protocol: frame larger than 64 MiB");
      }
      break;
    }
    char* payload = p + off + fh.header_len;
    const auto len = static_cast<size_t>(fh.payload_len);
    if (fh.masked)
      for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(payload[i] ^ static_cast<char>(fh.mask[i & 3]));
    off += fh.header_len + len;
    on_frame(c, fh, payload, len, now);
    if (c.st == St::Closed) return off;
  }
  return off;
}

void LoadGen::on_frame(Conn& c, const ws::FrameHeader& fh, char* payload, size_t len, uint64_t now) {
  switch (fh.opcode) {
    case ws::kPing:
      send_frame(c, ws::kPong, std::string_view(payload, len));
      return;
    case ws::kPong:
      return;
    case ws::kClose: {
      std::string why = "server sent close";
      if (len >= 2) {
        const unsigned code = (static_cast<unsigned>(static_cast<uint8_t>(payload[0])) << 8) |
                              static_cast<uint8_t>(payload[1]);
        why += " " + std::to_string(code);
        if (len > 2) why += " " + std::string(payload + 2, len - 2);
      }
      if (!c.close_sent) {
        c.close_sent = true;
        send_frame(c, ws::kClose, std::string_view(payload, std::min<size_t>(len, 2)));
      }
      fail(c, why);
      return;
    }
    case ws::kText:
    case ws::kBinary:
      if (!fh.fin) {
        c.frag.assign(payload, len);
        c.frag_op = fh.opcode;
        return;
      }
      on_message(c, payload, len, now);
      return;
    case ws::kCont:
      c.frag.append(payload, len);
      if (fh.fin) {
        std::string m;
        m.swap(c.frag);
        on_message(c, m.data(), m.size(), now);
      }
      return;
    default:
      ++protocol_errors_;
      fail(c, "protocol: unknown opcode " + std::to_string(fh.opcode));
  }
}

void LoadGen::on_message(Conn& c, char* p, size_t n, uint64_t now) {
  switch (o_.dialect) {
    case Dialect::Switchboard:
    case Dialect::Ws: on_sb_message(c, std::string_view(p, n), now); return;
    case Dialect::SocketIo: on_sio_message(c, std::string_view(p, n), now); return;
    case Dialect::Nats: on_nats_bytes(c, p, n, now); return;
  }
}

void LoadGen::on_sb_message(Conn& c, std::string_view m, uint64_t now) {
  const std::string_view type = json_str_field(m, "\"type\"");
  if (type == "message") {
    const std::string_view data = json_str_field(m, "\"data\"");
    on_delivery(c, data, now);
  } else if (type == "connected") {
    if (c.st == St::Opening) on_open(c);
  } else if (type == "subscribed") {
    on_subscribed(c);
  } else if (type == "published") {
    ++acks_;
  } else if (type == "error") {
    on_server_error(m);
    if (c.st == St::Subscribing) fail(c, "subscribe rejected: " + std::string(m.substr(0, 200)));
  }
}

void LoadGen::on_sio_message(Conn& c, std::string_view m, uint64_t now) {
  if (m.empty()) return;
  switch (m[0]) {
    case '0':  // Engine.IO open: connect to the default namespace
      send_text(c, "40");
      return;
    case '2':  // ping
      send_text(c, "3");
      return;
    case '1':
      fail(c, "engine.io close");
      return;
    case '4':
      break;
    default:  // pong, noop, upgrade
      return;
  }
  if (m.size() < 2) return;
  switch (m[1]) {
    case '0':  // Socket.IO CONNECT ack
      if (c.st == St::Opening) on_open(c);
      return;
    case '2': {  // EVENT: 42["message",{...,"data":"..."}]
      const std::string_view rest = m.substr(2);
      const size_t lb = rest.find('[');
      if (lb != std::string_view::npos && rest.substr(lb + 1).starts_with("\"message\"")) {
        on_delivery(c, json_str_field(rest, "\"data\""), now);
      }
      return;
    }
    case '3':  // ACK (of our subscribe): 431[{"channel":...}] or 431[{"error":...}]
      if (c.st == St::Subscribing && m.find("\"error\"") != std::string_view::npos) {
        on_server_error(m);
        fail(c, "subscribe rejected: " + std::string(m.substr(0, 200)));
        return;
      }
      on_subscribed(c);
      return;
    case '4':
      on_server_error(m);
      fail(c, "socket.io connect error: " + std::string(m.substr(0, 200)));
      return;
    case '1':
      fail(c, "socket.io disconnect");
      return;
    default:
      return;
  }
}

void LoadGen::on_nats_bytes(Conn& c, char* p, size_t n, uint64_t now) {
  auto op = [&](std::string_view kind, std::string_view line, std::string_view payload) {
    return on_nats_op(c, kind, line, payload, now);
  };
  size_t used;
  if (c.stream.empty()) {
    used = nats_parse(p, n, op);
    if (used == SIZE_MAX) {
      ++protocol_errors_;
      fail(c, "protocol: malformed NATS stream");
      return;
    }
    if (c.st != St::Closed && used < n) c.stream.assign(p + used, n - used);
  } else {
    c.stream.append(p, n);
    used = nats_parse(c.stream.data(), c.stream.size(), op);
    if (used == SIZE_MAX) {
      ++protocol_errors_;
      fail(c, "protocol: malformed NATS stream");
      return;
    }
    if (c.st != St::Closed) c.stream.erase(0, used);
  }
}

bool LoadGen::on_nats_op(Conn& c, std::string_view kind, std::string_view line, std::string_view payload, uint64_t now) {
  if (kind == "MSG" || kind == "HMSG") {
    on_delivery(c, payload, now);
  } else if (kind == "PING") {
    send_text(c, "PONG\r\n");
  } else if (kind == "PONG") {
    on_subscribed(c);
  } else if (kind == "INFO") {
    if (c.st == St::Opening) on_open(c);
  } else if (kind == "-ERR") {
    on_server_error(line);
    if (c.st == St::Subscribing) fail(c, "subscribe rejected: " + std::string(line.substr(0, 200)));
  } else if (kind == "?") {
    ++protocol_errors_;
    note_error("protocol: unknown NATS operation '" + std::string(line.substr(0, 80)) + "'");
  }
  return c.st != St::Closed;
}

void LoadGen::on_http_bytes(Conn& c, const char* p, size_t n) {
  c.in.append(p, n);
  for (;;) {
    const size_t hend = c.in.find("\r\n\r\n");
    if (hend == std::string::npos) {
      if (c.in.size() > 65536) fail(c, "http: response head too large");
      return;
    }
    const std::string_view head(c.in.data(), hend + 2);
    uint64_t status = 0;
    if (!head.starts_with("HTTP/1.") || head.size() < 12 || parse_u64(head.data() + 9, head.data() + head.size(), status) != 3) {
      ++protocol_errors_;
      fail(c, "http: bad status line");
      return;
    }
    size_t body_start = hend + 4;
    size_t consumed = 0;
    std::string body;
    const std::string_view te = http_header(head, "Transfer-Encoding");
    if (iequals_prefix(te, "chunked")) {
      size_t pos = body_start;
      bool complete = false;
      for (;;) {
        const size_t eol = c.in.find("\r\n", pos);
        if (eol == std::string::npos) break;
        const size_t sz = std::strtoul(c.in.c_str() + pos, nullptr, 16);
        if (sz == 0) {
          const size_t tend = c.in.find("\r\n\r\n", eol);  // trailers (normally none)
          if (c.in.compare(eol, 4, "\r\n\r\n") == 0) {
            consumed = eol + 4;
            complete = true;
          } else if (tend != std::string::npos) {
            consumed = tend + 4;
            complete = true;
          }
          break;
        }
        if (c.in.size() < eol + 2 + sz + 2) break;
        body.append(c.in, eol + 2, sz);
        pos = eol + 2 + sz + 2;
      }
      if (!complete) return;
    } else {
      uint64_t cl = 0;
      const std::string_view clv = http_header(head, "Content-Length");
      if (!clv.empty()) parse_u64(clv.data(), clv.data() + clv.size(), cl);
      if (c.in.size() < body_start + cl) return;
      body.assign(c.in, body_start, static_cast<size_t>(cl));
      consumed = body_start + static_cast<size_t>(cl);
    }
    const bool server_closes = iequals_prefix(http_header(head, "Connection"), "close");
    c.in.erase(0, consumed);
    c.http_busy = false;
    if (status >= 200 && status < 300) {
      ++http_ok_;
      ++acks_;
    } else {
      ++http_errors_;
      note_error("http " + std::to_string(status) + ": " + body.substr(0, 200));
    }
    if (server_closes) {
      fail(c, "http: server closed the keep-alive connection");
      return;
    }
  }
}

void LoadGen::send_bytes(Conn& c, const char* p, size_t n) {
  if (c.st == St::Closed) return;
  if (c.out_off < c.out.size()) {  // already queued: keep order
    c.out.append(p, n);
    return;
  }
  c.out.clear();
  c.out_off = 0;
  size_t done = 0;
  while (done < n) {
    const ssize_t w = send(c.fd, p + done, n - done, MSG_NOSIGNAL);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    fail(c, std::string("send: ") + std::strerror(errno));
    return;
  }
  if (done < n) c.out.append(p + done, n - done);
}

void LoadGen::flush(Conn& c) {
  while (c.out_off < c.out.size()) {
    const ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (w > 0) {
      c.out_off += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    fail(c, std::string("send: ") + std::strerror(errno));
    return;
  }
  c.out.clear();
  c.out_off = 0;
}

void LoadGen::send_frame(Conn& c, uint8_t op, std::string_view payload) {
  frame_buf_.clear();
  ws::append_frame(frame_buf_, op, payload.data(), payload.size(), rng_.next32());
  send_bytes(c, frame_buf_.data(), frame_buf_.size());
}

void LoadGen::on_open(Conn& c) {
  if (c.role == Role::Sub) {
    const std::string ch = channel_name(c.channel);
    c.st = St::Subscribing;
    switch (o_.dialect) {
      case Dialect::Switchboard:
      case Dialect::Ws: {
        static uint64_t next_id = 1;
        send_text(c, "{\"type\":\"subscribe\",\"id\":" + std::to_string(next_id++) + ",\"channel\":\"" + ch + "\"}");
        return;
      }
      case Dialect::SocketIo:
        send_text(c, "421[\"subscribe\",\"" + ch + "\"]");
        return;
      case Dialect::Nats:
        // The PONG to our PING says the server has processed CONNECT and SUB.
        send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB " + ch + " 1\r\nPING\r\n");
        return;
    }
  }
  if (o_.dialect == Dialect::Nats) {
    c.st = St::Subscribing;
    send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n");
    return;
  }
  c.st = St::Subscribing;
  on_subscribed(c);
}

void LoadGen::on_subscribed(Conn& c) {
  if (c.st != St::Subscribing) return;
  c.st = St::Ready;
  --in_progress_;
  ++ready_;
}

void LoadGen::on_delivery(const Conn& c, std::string_view data, uint64_t now) {
  Stamp s;
  if (!parse_stamp(data, s) || s.seq >= recv_by_seq_.size()) {
    ++bad_deliveries_;
    return;
  }
  ++recv_by_seq_[s.seq];
  ++received_;
  last_delivery_ns_ = now;
  if (phase_ == Phase::Measure) {
    ++deliveries_in_window_;
    ++deliveries_node_[c.node];
  }
  if (s.seq >= meas_seq_begin_ && s.seq < meas_seq_end_) {
    const uint64_t lat = now > s.t_ns ? now - s.t_ns : 0;
    hist_.record(lat);
    if (!hist_node_.empty()) hist_node_[c.node].record(lat);
  }
}

void LoadGen::on_server_error(std::string_view what) {
  ++server_errors_;
  note_error("server error: " + std::string(what.substr(0, 300)));
}

bool LoadGen::can_publish(const Conn& c) const {
  if (c.st != St::Ready) return false;
  if (c.role == Role::HttpPub) return !c.http_busy;
  return c.out.size() - c.out_off < (4u << 20);
}

Conn* LoadGen::next_publisher() {
  for (uint32_t k = 0; k < n_pubs_; ++k) {
    const uint32_t j = rr_pub_;
    rr_pub_ = (rr_pub_ + 1) % n_pubs_;
    Conn& c = conns_[n_subs_ + j];
    if (can_publish(c)) return &c;
  }
  return nullptr;
}

void LoadGen::publish(Conn& c, uint32_t channel) {
  const uint64_t seq = published_++;
  recv_by_seq_.push_back(0);
  if (phase_ == Phase::Measure) ++publishes_in_window_;
  // Stamp, then pad to the payload size.
  char stamp[64];
  const int sl = std::snprintf(stamp, sizeof stamp, "t=%" PRIu64 " s=%" PRIu64 " ", now_ns(), seq);
  payload_buf_.assign(stamp, static_cast<size_t>(sl));
  if (payload_buf_.size() < o_.payload) payload_buf_.resize(o_.payload, 'x');
  const std::string ch = channel_name(channel);
  msg_buf_.clear();
  switch (o_.dialect) {
    case Dialect::Switchboard:
    case Dialect::Ws:
      if (c.role == Role::HttpPub) {
        std::string body = "{\"channel\":\"" + ch + "\",\"data\":\"" + payload_buf_ + "\"}";
        msg_buf_ = "POST /api/publish HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
                   "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
        msg_buf_ += body;
        c.http_busy = true;
        send_bytes(c, msg_buf_.data(), msg_buf_.size());
        return;
      }
      msg_buf_ = "{\"type\":\"publish\",\"channel\":\"" + ch + "\",\"data\":\"" + payload_buf_ + "\"}";
      break;
    case Dialect::SocketIo:
      msg_buf_ = "42[\"publish\",{\"channel\":\"" + ch + "\",\"data\":\"" + payload_buf_ + "\"}]";
      break;
    case Dialect::Nats:
      msg_buf_ = "PUB " + ch + " " + std::to_string(payload_buf_.size()) + "\r\n" + payload_buf_ + "\r\n";
      break;
  }
  send_text(c, msg_buf_);
}

void LoadGen::pump_publishes(uint64_t now) {
  if (phase_ != Phase::Warmup && phase_ != Phase::Measure) return;
  if (o_.rate_max) {
    while (outstanding() < window_) {
      Conn* p = next_publisher();
      if (!p) break;
      publish(*p, rr_channel_);
      rr_channel_ = (rr_channel_ + 1) % o_.channels;
    }
    return;
  }
  const auto due = static_cast<uint64_t>(static_cast<double>(now - pub_epoch_) * o_.rate / 1e9) + 1;
  while (sched_sent_ < due) {
    Conn* p = next_publisher();
    if (!p) break;
    publish(*p, rr_channel_);
    rr_channel_ = (rr_channel_ + 1) % o_.channels;
    ++sched_sent_;
  }
}

void LoadGen::begin_publishing(uint64_t now) {
  pub_epoch_ = now;
  sched_sent_ = 0;
  last_delivery_ns_ = now;
  if (o_.warmup > 0) {
    phase_ = Phase::Warmup;
    t_phase_end_ = now + static_cast<uint64_t>(o_.warmup * 1e9);
  } else {
    begin_measure(now);
  }
  pump_publishes(now);
}

void LoadGen::begin_measure(uint64_t now) {
  phase_ = Phase::Measure;
  t_measure_start_ = now;
  t_phase_end_ = now + static_cast<uint64_t>(o_.duration * 1e9);
  meas_seq_begin_ = published_;
  meas_seq_end_ = UINT64_MAX;
  cpu_t_start_ = now;
  cpu_client_start_ = self_cpu_s();
  cpu_pid_start_ = read_proc_cpu_s(o_.server_pids);
  cpu_server_start_ = sum_cpu(cpu_pid_start_);
  cpu_system_start_ = read_system_cpu();
}

void LoadGen::end_measure(uint64_t now) {
  t_measure_end_ = now;
  meas_seq_end_ = published_;
  cpu_t_end_ = now;
  cpu_client_end_ = self_cpu_s();
  cpu_pid_end_ = read_proc_cpu_s(o_.server_pids);
  cpu_server_end_ = sum_cpu(cpu_pid_end_);
  cpu_system_end_ = read_system_cpu();
  rss_after_kb_ = read_rss_kb(o_.server_pids);
  phase_ = Phase::Drain;
  t_phase_end_ = now + static_cast<uint64_t>(o_.drain * 1e9);
}

void LoadGen::begin_sample(uint64_t now) {
  rss_after_kb_ = read_rss_kb(o_.server_pids);
  phase_ = Phase::Sample;
  sample_k_ = std::min(o_.sample, o_.channels);
  sample_sent_ = 0;
  meas_seq_begin_ = published_;
  meas_seq_end_ = UINT64_MAX;
  t_measure_start_ = now;
  t_phase_end_ = now + static_cast<uint64_t>((o_.drain + 30) * 1e9);  // sending over HTTP is sequential
}

void LoadGen::tick(uint64_t now) {
  if (fatal_) {
    phase_ = Phase::Done;
    return;
  }
  switch (phase_) {
    case Phase::Connect: {
      while (next_start_ < conns_.size() && in_progress_ < o_.connect_concurrency) {
        start_connection(next_start_++, now);
        if (fatal_) {
          phase_ = Phase::Done;
          return;
        }
      }
      if (ready_ == conns_.size()) {
        t_connect_end_ = now;
        const double secs = static_cast<double>(t_connect_end_ - t_connect_start_) / 1e9;
        log("%zu connections ready in %.2f s (%.0f/s)", conns_.size(), secs, static_cast<double>(conns_.size()) / secs);
        if (o_.idle > 0) {
          // The measured interval for CPU in idle mode is the connect phase.
          cpu_t_end_ = now;
          cpu_client_end_ = self_cpu_s();
          cpu_pid_end_ = read_proc_cpu_s(o_.server_pids);
          cpu_server_end_ = sum_cpu(cpu_pid_end_);
          cpu_system_end_ = read_system_cpu();
          phase_ = Phase::Hold;
          t_phase_end_ = now + static_cast<uint64_t>(o_.duration * 1e9);
        } else {
          begin_publishing(now);
        }
      } else if (now - t_connect_start_ > static_cast<uint64_t>(o_.connect_timeout * 1e9)) {
        fatal_ = true;
        fatal_msg_ = "connect timeout: " + std::to_string(ready_) + " of " + std::to_string(conns_.size()) +
                     " connections ready after " + fmt_double(o_.connect_timeout, 0) + " s";
        phase_ = Phase::Done;
      }
      return;
    }
    case Phase::Warmup:
      if (now >= t_phase_end_) begin_measure(now);
      pump_publishes(now);
      return;
    case Phase::Measure:
      if (now >= t_phase_end_) {
        end_measure(now);
        log("measured %.1f s: %" PRIu64 " publishes, %" PRIu64 " deliveries; draining", o_.duration,
            publishes_in_window_, deliveries_in_window_);
        return;
      }
      pump_publishes(now);
      if (o_.rate_max && outstanding() >= window_ && now - last_delivery_ns_ > 5'000'000'000ULL) {
        log("stalled: %" PRIu64 " deliveries outstanding and none for 5 s", outstanding());
        last_delivery_ns_ = now;
      }
      return;
    case Phase::Hold:
      if (now >= t_phase_end_) begin_sample(now);
      return;
    case Phase::Sample: {
      while (sample_sent_ < sample_k_) {
        Conn* p = next_publisher();
        if (!p) break;
        const auto ch = static_cast<uint32_t>(uint64_t{sample_sent_} * o_.channels / sample_k_);
        publish(*p, ch);
        ++sample_sent_;
      }
      if (sample_sent_ == sample_k_) {
        phase_ = Phase::Drain;
        t_phase_end_ = now + static_cast<uint64_t>(o_.drain * 1e9);
      } else if (now >= t_phase_end_) {
        phase_ = Phase::Drain;
        t_phase_end_ = now;
      }
      return;
    }
    case Phase::Drain: {
      const bool http_idle = std::all_of(conns_.begin() + n_subs_, conns_.end(),
                                         [](const Conn& c) { return !c.http_busy || c.st == St::Closed; });
      if ((outstanding() == 0 && http_idle) || now >= t_phase_end_) finish(now);
      return;
    }
    case Phase::Done:
      return;
  }
}

void LoadGen::finish(uint64_t now) {
  if (o_.idle > 0) t_measure_end_ = now;
  for (const uint32_t n : recv_by_seq_) {
    if (n < expected_per_publish_) lost_ += expected_per_publish_ - n;
    else duplicates_ += n - expected_per_publish_;
  }
  phase_ = Phase::Done;
}

int64_t LoadGen::timeout_ns(uint64_t now) const {
  switch (phase_) {
    case Phase::Connect: return 5'000'000;
    case Phase::Warmup:
    case Phase::Measure: {
      if (o_.rate_max) return 10'000'000;
      // Wake up for the next scheduled publish, with 20 us granularity.
      const double next_at = static_cast<double>(pub_epoch_) + static_cast<double>(sched_sent_) * 1e9 / o_.rate;
      const double wait = next_at - static_cast<double>(now);
      return std::clamp<int64_t>(static_cast<int64_t>(wait), 20'000, 10'000'000);
    }
    case Phase::Hold: return 50'000'000;
    default: return 5'000'000;
  }
}

int LoadGen::run() {
  if (!setup()) {
    std::fputs(report().c_str(), stdout);
    std::fputc('\n', stdout);
    return 2;
  }
  rss_before_kb_ = read_rss_kb(o_.server_pids);
  t_connect_start_ = now_ns();
  if (o_.idle > 0) {
    cpu_t_start_ = t_connect_start_;
    cpu_client_start_ = self_cpu_s();
    cpu_pid_start_ = read_proc_cpu_s(o_.server_pids);
    cpu_server_start_ = sum_cpu(cpu_pid_start_);
    cpu_system_start_ = read_system_cpu();
  }
  if (o_.port2) {
    log("%s: %u subscriber connections split over %s:%d and %s:%d, %u publisher connections to the first",
        dialect_name(o_.dialect), n_subs_, o_.host.c_str(), o_.port, o_.host.c_str(), o_.port2, n_pubs_);
  } else {
    log("%s: %u subscriber and %u publisher connections to %s:%d", dialect_name(o_.dialect), n_subs_, n_pubs_,
        o_.host.c_str(), o_.port);
  }
  std::vector<epoll_event> evs(1024);
  bool have_pwait2 = true;
  tick(now_ns());
  while (phase_ != Phase::Done) {
    const int64_t tns = timeout_ns(now_ns());
    int n;
    if (have_pwait2) {
      timespec ts{static_cast<time_t>(tns / 1'000'000'000), static_cast<long>(tns % 1'000'000'000)};
      n = epoll_pwait2(ep_, evs.data(), static_cast<int>(evs.size()), &ts, nullptr);
      if (n < 0 && errno == ENOSYS) {
        have_pwait2 = false;
        continue;
      }
    } else {
      n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), static_cast<int>((tns + 999'999) / 1'000'000));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal_ = true;
      fatal_msg_ = std::string("epoll_wait: ") + std::strerror(errno);
      break;
    }
    for (int i = 0; i < n; ++i) on_event(evs[static_cast<size_t>(i)].data.u32, evs[static_cast<size_t>(i)].events);
    tick(now_ns());
  }
  std::fputs(report().c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return fatal_ ? 1 : 0;
}

std::string LoadGen::report() const {
  std::vector<std::pair<std::string, std::string>> kv;
  auto num = [&](const char* k, uint64_t v) { kv.emplace_back(k, std::to_string(v)); };
  auto dbl = [&](const char* k, double v, int d) { kv.emplace_back(k, fmt_double(v, d)); };
  auto str = [&](const char* k, std::string_view v) { kv.emplace_back(k, "\"" + json_escape(v) + "\""); };
  auto raw = [&](const char* k, std::string v) { kv.emplace_back(k, std::move(v)); };
  auto opt_num = [&](const char* k, const std::optional<uint64_t>& v) {
    kv.emplace_back(k, v ? std::to_string(*v) : "null");
  };

  const bool ok = !fatal_ && fatal_msg_.empty();
  raw("ok", ok ? "true" : "false");
  raw("error", fatal_msg_.empty() ? "null" : "\"" + json_escape(fatal_msg_) + "\"");
  str("dialect", dialect_name(o_.dialect));
  str("mode", o_.idle > 0 ? "idle" : "load");
  str("publish_via", o_.http_publish ? "http" : "ws");
  num("channels", o_.channels);
  num("subs_per_channel", o_.subs_per_channel);
  num("publishers", o_.publishers);
  num("connections", conns_.size());
  num("payload_bytes", o_.payload);
  if (o_.idle > 0) raw("rate_target", "null");
  else if (o_.rate_max) str("rate_target", "max");
  else dbl("rate_target", o_.rate, 1);
  if (o_.rate_max && o_.idle == 0) num("window", window_);
  else raw("window", "null");
  dbl("duration_s", o_.idle > 0 ? o_.duration : (t_measure_end_ > t_measure_start_ ? static_cast<double>(t_measure_end_ - t_measure_start_) / 1e9 : 0.0), 3);

  const double connect_s =
      t_connect_end_ > t_connect_start_ ? static_cast<double>(t_connect_end_ - t_connect_start_) / 1e9 : 0.0;
  dbl("connect_s", connect_s, 3);
  dbl("connect_rate", connect_s > 0 ? static_cast<double>(conns_.size()) / connect_s : 0.0, 1);

  const double meas_s = t_measure_end_ > t_measure_start_ ? static_cast<double>(t_measure_end_ - t_measure_start_) / 1e9 : 0.0;
  num("publishes", published_);
  num("expected", published_ * expected_per_publish_);
  num("received", received_);
  num("lost", lost_);
  num("duplicates", duplicates_);
  if (o_.idle == 0) {
    num("publishes_in_window", publishes_in_window_);
    num("deliveries_in_window", deliveries_in_window_);
    dbl("publishes_per_s", meas_s > 0 ? static_cast<double>(publishes_in_window_) / meas_s : 0.0, 1);
    dbl("deliveries_per_s", meas_s > 0 ? static_cast<double>(deliveries_in_window_) / meas_s : 0.0, 1);
  } else {
    num("sampled_channels", sample_k_);
  }
  auto latency = [](const Histogram& h) {
    auto us = [](uint64_t ns) { return fmt_double(static_cast<double>(ns) / 1e3, 1); };
    std::string l = "{\"count\":" + std::to_string(h.count());
    if (h.count() > 0) {
      l += ",\"min\":" + us(h.min()) + ",\"mean\":" + fmt_double(h.mean() / 1e3, 1) +
           ",\"p50\":" + us(h.percentile(50)) + ",\"p90\":" + us(h.percentile(90)) +
           ",\"p99\":" + us(h.percentile(99)) + ",\"p999\":" + us(h.percentile(99.9)) +
           ",\"max\":" + us(h.max());
    } else {
      l += ",\"min\":null,\"mean\":null,\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null";
    }
    return l + "}";
  };
  raw("latency_us", latency(hist_));
  // Two nodes: node1 is the publishers' node (local deliveries), node2 the other one (every
  // delivery crossed the cluster's broker), so their difference is the cost of the hop.
  num("nodes", o_.port2 ? 2 : 1);
  if (o_.port2) {
    num("port2", static_cast<uint64_t>(o_.port2));
    if (o_.idle == 0) {
      for (int k = 0; k < 2; ++k) {
        const std::string key = "deliveries_per_s_node" + std::to_string(k + 1);
        kv.emplace_back(key, fmt_double(meas_s > 0 ? static_cast<double>(deliveries_node_[k]) / meas_s : 0.0, 1));
      }
    }
    kv.emplace_back("latency_us_node1", latency(hist_node_[0]));
    kv.emplace_back("latency_us_node2", latency(hist_node_[1]));
  }
  {
    const uint64_t total = connect_failures_ + disconnects_ + server_errors_ + http_errors_ + protocol_errors_ + bad_deliveries_;
    std::string e = "{\"total\":" + std::to_string(total) + ",\"connect_failures\":" + std::to_string(connect_failures_) +
                    ",\"disconnects\":" + std::to_string(disconnects_) + ",\"server_errors\":" + std::to_string(server_errors_) +
                    ",\"http_errors\":" + std::to_string(http_errors_) + ",\"protocol_errors\":" + std::to_string(protocol_errors_) +
                    ",\"bad_deliveries\":" + std::to_string(bad_deliveries_) + ",\"first\":[";
    for (size_t i = 0; i < first_errors_.size(); ++i) e += (i ? ",\"" : "\"") + json_escape(first_errors_[i]) + "\"";
    e += "]}";
    raw("errors", e);
  }
  num("acks", acks_);

  if (!o_.server_pids.empty()) num("server_pid", static_cast<uint64_t>(o_.server_pids[0]));
  else raw("server_pid", "null");
  if (o_.server_pids.size() > 1) {
    std::string pids = "[";
    for (size_t i = 0; i < o_.server_pids.size(); ++i) pids += (i ? "," : "") + std::to_string(o_.server_pids[i]);
    raw("server_pids", pids + "]");
  }
  opt_num("rss_before_kb", rss_before_kb_);
  opt_num("rss_after_kb", rss_after_kb_);
  if (rss_before_kb_ && rss_after_kb_ && !conns_.empty()) {
    const double delta = (static_cast<double>(*rss_after_kb_) - static_cast<double>(*rss_before_kb_)) * 1024.0;
    dbl("rss_per_conn_bytes", delta / static_cast<double>(conns_.size()), 1);
  } else {
    raw("rss_per_conn_bytes", "null");
  }
  const double cpu_wall = cpu_t_end_ > cpu_t_start_ ? static_cast<double>(cpu_t_end_ - cpu_t_start_) / 1e9 : 0.0;
  str("cpu_interval", o_.idle > 0 ? "connect" : "measure");
  dbl("cpu_wall_s", cpu_wall, 3);
  const double ccpu = cpu_client_end_ - cpu_client_start_;
  dbl("client_cpu_s", cpu_wall > 0 ? ccpu : 0.0, 3);
  dbl("client_cpu_pct", cpu_wall > 0 ? 100.0 * ccpu / cpu_wall : 0.0, 1);
  if (cpu_server_start_ && cpu_server_end_ && cpu_wall > 0) {
    const double scpu = *cpu_server_end_ - *cpu_server_start_;
    dbl("server_cpu_s", scpu, 3);
    dbl("server_cpu_pct", 100.0 * scpu / cpu_wall, 1);
  } else {
    raw("server_cpu_s", "null");
    raw("server_cpu_pct", "null");
  }
  // Per process, in --server-pid order, so that a cluster's nodes and broker can be told apart.
  if (o_.server_pids.size() > 1 && cpu_pid_start_.size() == cpu_pid_end_.size() && cpu_wall > 0) {
    std::string by = "[";
    for (size_t i = 0; i < cpu_pid_start_.size(); ++i) {
      if (i) by += ",";
      by += cpu_pid_start_[i] && cpu_pid_end_[i] ? fmt_double(100.0 * (*cpu_pid_end_[i] - *cpu_pid_start_[i]) / cpu_wall, 1)
                                                 : "null";
    }
    raw("server_cpu_pct_by_pid", by + "]");
  }
  // What else the machine did meanwhile, in % of one CPU: other processes and kernel
  // threads, and interrupt/softirq time (mostly the loopback network work of both sides).
  if (cpu_system_start_ && cpu_system_end_ && cpu_wall > 0) {
    double other = cpu_system_end_->busy - cpu_system_start_->busy - ccpu;
    if (cpu_server_start_ && cpu_server_end_) other -= *cpu_server_end_ - *cpu_server_start_;
    dbl("other_cpu_pct", std::max(0.0, 100.0 * other / cpu_wall), 1);
    dbl("irq_cpu_pct", 100.0 * (cpu_system_end_->irq - cpu_system_start_->irq) / cpu_wall, 1);
  } else {
    raw("other_cpu_pct", "null");
    raw("irq_cpu_pct", "null");
  }
  raw("client_bound", cpu_wall > 0 && ccpu / cpu_wall >= 0.9 ? "true" : "false");

  std::string out = "{";
  for (size_t i = 0; i < kv.size(); ++i) {
    if (i) out += ",";
    out += "\"" + kv[i].first + "\":" + kv[i].second;
  }
  out += "}";
  return out;
}

// ---- self test ---------------------------------------------------------------------------

int self_test() {
  int failures = 0;
  auto check = [&](bool cond, const char* what) {
    if (!cond) {
      std::fprintf(stderr, "FAIL: %s\n", what);
      ++failures;
    }
  };
  {
    const auto d = sha1("abc");
    std::string hex;
    for (const uint8_t b : d) {
      char buf[3];
      std::snprintf(buf, sizeof buf, "%02x", b);
      hex += buf;
    }
    check(hex == "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1(abc)");
    check(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 accept example");
    const uint8_t f[] = {'f', 'o', 'o', 'b', 'a', 'r'};
    check(base64_encode(f, 6) == "Zm9vYmFy" && base64_encode(f, 5) == "Zm9vYmE=" && base64_encode(f, 4) == "Zm9vYg==",
          "base64");
  }
  {
    Rng rng(42);
    for (const size_t len : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{127}, size_t{65535}, size_t{65536}, size_t{200000}}) {
      std::string payload(len, '\0');
      for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(rng.next() & 0xFF);
      std::string out;
      ws::append_frame(out, ws::kText, payload.data(), payload.size(), rng.next32());
      ws::FrameHeader fh;
      const int r = ws::parse_header(reinterpret_cast<const uint8_t*>(out.data()), out.size(), fh);
      bool good = r == 1 && fh.fin && fh.opcode == ws::kText && fh.masked && fh.payload_len == len &&
                  fh.header_len + len == out.size();
      if (good) {
        for (size_t i = 0; i < len; ++i)
          if (static_cast<char>(out[fh.header_len + i] ^ static_cast<char>(fh.mask[i & 3])) != payload[i]) good = false;
      }
      check(good, "frame round trip");
      check(ws::parse_header(reinterpret_cast<const uint8_t*>(out.data()), std::min<size_t>(out.size(), fh.header_len - 1), fh) == 0,
            "partial header needs more bytes");
    }
    const uint8_t unmasked64[] = {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    ws::FrameHeader fh;
    check(ws::parse_header(unmasked64, sizeof unmasked64, fh) == 1 && fh.payload_len == 65536 && fh.header_len == 10 && !fh.masked,
          "64-bit length server frame");
    const uint8_t rsv[] = {0xC1, 0};
    check(ws::parse_header(rsv, 2, fh) == -1, "RSV1 rejected");
  }
  {
    Histogram h;
    for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);
    auto near = [](uint64_t got, double want) { return std::fabs(static_cast<double>(got) - want) <= want * 0.01; };
    check(near(h.percentile(50), 50e6), "p50");
    check(near(h.percentile(99), 99e6), "p99");
    check(near(h.percentile(99.9), 99.9e6), "p99.9");
    check(h.max() == 100000000 && h.min() == 1000 && h.count() == 100000, "min/max/count");
    for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{255}, uint64_t{256}, uint64_t{1000}, uint64_t{123456789}, UINT64_MAX}) {
      const size_t i = Histogram::index_of(v);
      check(i < Histogram::kBuckets && Histogram::lowest_of(i) <= v && v <= Histogram::highest_of(i), "bucket bounds");
    }
  }
  {
    const std::string_view m = R"({"type" : "message","channel":"bench.1","data":"t=123 s=7 xxxx","offset":3})";
    check(json_str_field(m, "\"type\"") == "message", "json type");
    check(json_str_field(m, "\"data\"") == "t=123 s=7 xxxx", "json data");
    check(json_str_field(m, "\"offset\"").empty(), "json non-string");
    Stamp s;
    check(parse_stamp("t=123 s=7 xxxx", s) && s.t_ns == 123 && s.seq == 7, "stamp");
    check(!parse_stamp("t=123", s) && !parse_stamp("hello", s), "bad stamp");
  }
  {
    // NATS stream split at every possible point must give the same operations.
    const std::string stream =
        "INFO {\"server_id\":\"x\"}\r\nPING\r\nMSG bench.1 1 13\r\nt=5 s=2 xxxxx\r\n+OK\r\n"
        "MSG bench.2 1 _INBOX.1 3\r\nabc\r\nHMSG a 1 12 15\r\nNATS/1.0\r\n\r\nxyz\r\n-ERR 'oops'\r\nPONG\r\n";
    std::string whole;
    auto collect = [](std::string& into) {
      return [&into](std::string_view k, std::string_view, std::string_view p) {
        into += std::string(k) + "[" + std::string(p) + "]";
        return true;
      };
    };
    check(nats_parse(stream.data(), stream.size(), collect(whole)) == stream.size(), "nats whole");
    check(whole == "INFO[]PING[]MSG[t=5 s=2 xxxxx]+OK[]MSG[abc]HMSG[xyz]-ERR[]PONG[]", "nats ops");
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      std::string got, buf = stream.substr(0, cut);
      size_t used = nats_parse(buf.data(), buf.size(), collect(got));
      buf.erase(0, used);
      buf += stream.substr(cut);
      used = nats_parse(buf.data(), buf.size(), collect(got));
      if (got != whole || used != buf.size()) {
        check(false, "nats split");
        break;
      }
    }
  }
  {
    // --port2: every channel's subscribers split evenly over the two nodes, whatever the shape.
    auto balanced = [](uint32_t channels, uint32_t subs) {
      std::vector<uint32_t> on2(channels, 0);
      for (uint32_t i = 0; i < channels * subs; ++i) on2[i % channels] += node_of(i, channels, subs);
      for (const uint32_t n : on2)
        if (n != subs / 2) return false;
      return true;
    };
    check(balanced(1, 1000) && balanced(100, 100) && balanced(4, 10) && balanced(3, 7), "port2 split per channel");
    uint32_t idle_on2 = 0;
    for (uint32_t i = 0; i < 200; ++i) idle_on2 += node_of(i, 200, 1);
    check(idle_on2 == 100, "port2 split of one-subscriber channels");
  }
  std::fprintf(stderr, "self-test: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace sbload

int main(int argc, char** argv) {
  sbload::Options o = sbload::parse_args(argc, argv);
  sbload::LoadGen lg(std::move(o));
  return lg.run();
}
