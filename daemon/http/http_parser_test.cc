#include "daemon/http/http_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth::http {
namespace {

struct Outcome {
  std::vector<ParsedRequest> requests;
  bool failed = false;
  ParseError error;
};

// Feeds `input` in pieces of `step` bytes (0: all at once) and collects what comes out.
Outcome Parse(const std::string& input, size_t step = 0, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  auto drain = [&] {
    for (;;) {
      ParsedRequest req;
      auto r = parser.Next(&req, &out.error);
      if (r == RequestParser::Result::kRequest) {
        out.requests.push_back(std::move(req));
        continue;
      }
      if (r == RequestParser::Result::kError) out.failed = true;
      return;
    }
  };
  if (step == 0) step = input.size() ? input.size() : 1;
  for (size_t i = 0; i < input.size() && !out.failed; i += step) {
    parser.Feed(std::string_view(input).substr(i, step));
    drain();
  }
  return out;
}

int ErrorStatus(const std::string& input, ParserLimits limits = {}) {
  Outcome out = Parse(input, 0, limits);
  return out.failed ? out.error.status : 0;
}

TEST(HttpParserTest, SimpleGet) {
  Outcome out = Parse("GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nAccept:  */* \r\n\r\n");
  ASSERT_FALSE(out.failed) << out.error.message;
  ASSERT_EQ(out.requests.size(), 1u);
  const ParsedRequest& r = out.requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/v1/models?x=1");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.headers.find("accept")->second, "*/*");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(r.body.empty());
}

TEST(HttpParserTest, PostWithBody) {
  Outcome out = Parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].body, "hello");
}

TEST(HttpParserTest, WaitsForTheWholeBody) {
  RequestParser parser;
  parser.Feed("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel");
  ParsedRequest req;
  ParseError err;
  EXPECT_EQ(parser.Next(&req, &err), RequestParser::Result::kNeedMore);
  EXPECT_EQ(parser.phase(), RequestParser::Phase::kBody);
  parser.Feed("lo");
  ASSERT_EQ(parser.Next(&req, &err), RequestParser::Result::kRequest);
  EXPECT_EQ(req.body, "hello");
  EXPECT_EQ(parser.phase(), RequestParser::Phase::kIdle);
}

TEST(HttpParserTest, TransferEncodingAnyCaseIs411) {
  for (const char* te : {"chunked", "Chunked", "ChUnKeD", "CHUNKED", "gzip, chunked", "identity"}) {
    for (const char* name : {"Transfer-Encoding", "transfer-encoding", "TRANSFER-ENCODING"}) {
      const std::string req = std::string("POST /v1/completions HTTP/1.1\r\n") + name + ": " + te + "\r\n\r\n";
      Outcome out = Parse(req);
      ASSERT_TRUE(out.failed) << te;
      EXPECT_EQ(out.error.status, 411) << te;
      EXPECT_NE(out.error.message.find("Content-Length"), std::string::npos);
    }
  }
  // Together with a Content-Length too (the classic smuggling shape).
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: ChUnKeD\r\n\r\nabc"), 411);
}

TEST(HttpParserTest, HeaderCountCap) {
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(ErrorStatus(req + "\r\n"), 0);
  EXPECT_EQ(ErrorStatus(req + "X-One-Too-Many: v\r\n\r\n"), 431);
}

TEST(HttpParserTest, HeaderCountCapHitsBeforeTheHeadEnds) {
  // A flood that never ends its head is refused as soon as it passes the cap.
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) req += "X: v\r\n";
  EXPECT_EQ(ErrorStatus(req), 431);
}

TEST(HttpParserTest, HeaderBytesCap) {
  const std::string big(40 * 1024, 'a');
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-Big: " + big + "\r\n\r\n"), 431);
  // Also while the line is still incomplete.
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-Big: " + big), 431);
  ParserLimits small;
  small.max_header_bytes = 40;
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nA: 0123456789\r\nB: 0123456789\r\nC: 0123456789\r\n\r\n", small), 431);
}

TEST(HttpParserTest, LineWithoutColonIs400) {
  Outcome out = Parse("GET / HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n");
  ASSERT_TRUE(out.failed);
  EXPECT_EQ(out.error.status, 400);
  EXPECT_NE(out.error.message.find("colon"), std::string::npos);
}

TEST(HttpParserTest, ObsoleteLineFoldingIs400) {
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"), 400);
}

TEST(HttpParserTest, MalformedHeaderNamesAndValues) {
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-A : v\r\n\r\n"), 400);  // space before the colon
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\n: v\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus(std::string("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28)), 400);
  EXPECT_EQ(ErrorStatus("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"), 400);
}

TEST(HttpParserTest, BadRequestLines) {
  for (const char* line : {"GET\r\n", "GET /\r\n", "GET  / HTTP/1.1\r\n", "GET / HTTP/1.1 x\r\n", "GET x HTTP/1.1\r\n",
                           "G(T / HTTP/1.1\r\n", "GET / HTTP/1.x\r\n", "GET / FTP/1.1\r\n", "GET /a\x01 HTTP/1.1\r\n"}) {
    EXPECT_EQ(ErrorStatus(std::string(line) + "\r\n"), 400) << line;
  }
  EXPECT_EQ(ErrorStatus("GET / HTTP/2.0\r\n\r\n"), 505);
}

TEST(HttpParserTest, TargetLengthCap) {
  const std::string ok_target = "/" + std::string(8 * 1024 - 1, 'a');
  EXPECT_EQ(ErrorStatus("GET " + ok_target + " HTTP/1.1\r\n\r\n"), 0);
  EXPECT_EQ(ErrorStatus("GET " + ok_target + "a HTTP/1.1\r\n\r\n"), 414);
  EXPECT_EQ(ErrorStatus("GET /" + std::string(20000, 'a')), 414);  // no line end yet
}

TEST(HttpParserTest, ContentLengthStrict) {
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\nhello"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), 400);
  Outcome same = Parse("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_EQ(same.requests.size(), 1u);
  EXPECT_EQ(same.requests[0].body, "hello");
}

TEST(HttpParserTest, BodyOverTheCapIs413BeforeTheBodyArrives) {
  ParserLimits limits;
  limits.max_body_bytes = 10;
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", limits), 413);
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n"), 413);  // default 8 MiB
}

TEST(HttpParserTest, KeepAliveSemantics) {
  auto keep = [](const std::string& head) {
    Outcome out = Parse(head + "\r\n");
    EXPECT_EQ(out.requests.size(), 1u) << head;
    return !out.requests.empty() && out.requests[0].keep_alive;
  };
  EXPECT_TRUE(keep("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nConnection: close\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.1\r\nConnection: Upgrade, CLOSE\r\n"));
  EXPECT_FALSE(keep("GET / HTTP/1.0\r\n"));
  EXPECT_TRUE(keep("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n"));
}

TEST(HttpParserTest, ExpectContinue) {
  RequestParser parser;
  parser.Feed("POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  ParsedRequest req;
  ParseError err;
  EXPECT_EQ(parser.Next(&req, &err), RequestParser::Result::kNeedMore);
  EXPECT_TRUE(parser.awaiting_continue());
  EXPECT_EQ(ErrorStatus("POST / HTTP/1.1\r\nContent-Length: 2\r\nExpect: magic\r\n\r\nab"), 417);
}

TEST(HttpParserTest, PipelinedRequestsComeOutInOrder) {
  const std::string input =
      "GET /one HTTP/1.1\r\n\r\n"
      "POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nConnection: close\r\n\r\n";
  Outcome out = Parse(input);
  ASSERT_FALSE(out.failed);
  ASSERT_EQ(out.requests.size(), 3u);
  EXPECT_EQ(out.requests[0].target, "/one");
  EXPECT_EQ(out.requests[1].target, "/two");
  EXPECT_EQ(out.requests[1].body, "abc");
  EXPECT_EQ(out.requests[2].target, "/three");
  EXPECT_FALSE(out.requests[2].keep_alive);
}

TEST(HttpParserTest, EverySplitParsesTheSame) {
  const std::string input =
      "\r\nPOST /v1/chat/completions?a=b HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Content-Length: 17\r\n\r\n{\"model\":\"small\"}"
      "GET /healthz HTTP/1.0\nConnection: keep-alive\n\n";
  const Outcome whole = Parse(input);
  ASSERT_EQ(whole.requests.size(), 2u);
  for (size_t cut = 1; cut < input.size(); ++cut) {
    RequestParser parser;
    std::vector<ParsedRequest> got;
    for (std::string_view part : {std::string_view(input).substr(0, cut), std::string_view(input).substr(cut)}) {
      parser.Feed(part);
      ParsedRequest req;
      ParseError err;
      RequestParser::Result r;
      while ((r = parser.Next(&req, &err)) == RequestParser::Result::kRequest) got.push_back(req);
      ASSERT_NE(r, RequestParser::Result::kError) << "cut at " << cut << ": " << err.message;
    }
    ASSERT_EQ(got.size(), 2u) << "cut at " << cut;
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(got[i].method, whole.requests[i].method);
      EXPECT_EQ(got[i].target, whole.requests[i].target);
      EXPECT_EQ(got[i].headers, whole.requests[i].headers);
      EXPECT_EQ(got[i].body, whole.requests[i].body);
      EXPECT_EQ(got[i].keep_alive, whole.requests[i].keep_alive);
    }
  }
  // And one byte at a time.
  Outcome bytewise = Parse(input, 1);
  ASSERT_EQ(bytewise.requests.size(), 2u);
  EXPECT_EQ(bytewise.requests[0].body, whole.requests[0].body);
}

TEST(HttpParserTest, ErrorIsSticky) {
  RequestParser parser;
  parser.Feed("BAD\r\n\r\nGET / HTTP/1.1\r\n\r\n");
  ParsedRequest req;
  ParseError err;
  EXPECT_EQ(parser.Next(&req, &err), RequestParser::Result::kError);
  EXPECT_EQ(parser.Next(&req, &err), RequestParser::Result::kError);
}

TEST(HttpParserTest, PhaseTracksTheHead) {
  RequestParser parser;
  EXPECT_EQ(parser.phase(), RequestParser::Phase::kIdle);
  parser.Feed("GE");
  ParsedRequest req;
  ParseError err;
  EXPECT_EQ(parser.Next(&req, &err), RequestParser::Result::kNeedMore);
  EXPECT_EQ(parser.phase(), RequestParser::Phase::kHead);
}

}  // namespace
}  // namespace hearth::http
