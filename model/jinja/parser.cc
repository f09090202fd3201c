#include "model/jinja/parser.h"

#include <cstdlib>
#include <initializer_list>

#include "model/jinja/error.h"
#include "model/jinja/lexer.h"

namespace hearth::model::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body ParseTemplate() {
    std::string ender;
    Body body = ParseBody({}, &ender);
    return body;
  }

 private:
  // --- token helpers ---
  const Token& Peek(size_t ahead = 0) const {
    const size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kName && Peek(ahead).text == name;
  }
  bool AcceptOp(std::string_view op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool AcceptName(std::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }
  std::string Describe(const Token& t) const {
    switch (t.kind) {
      case TokenKind::kText: return "text";
      case TokenKind::kVarBegin: return "'{{'";
      case TokenKind::kVarEnd: return "'}}'";
      case TokenKind::kBlockBegin: return "'{%'";
      case TokenKind::kBlockEnd: return "'%}'";
      case TokenKind::kEnd: return "the end of the template";
      default: return "'" + t.text + "'";
    }
  }
  [[noreturn]] void Unexpected(std::string_view wanted) {
    Fail(Peek().line, "expected " + std::string(wanted) + ", found " + Describe(Peek()));
  }
  void ExpectOp(std::string_view op) {
    if (!AcceptOp(op)) Unexpected("'" + std::string(op) + "'");
  }
  void Expect(TokenKind kind, std::string_view what) {
    if (Peek().kind != kind) Unexpected(what);
    Next();
  }
  std::string ExpectName() {
    if (Peek().kind != TokenKind::kName) Unexpected("a name");
    return Next().text;
  }

  struct DepthGuard {
    DepthGuard(Parser* p, int line) : p_(p) {
      if (++p_->depth_ > kMaxParseDepth) Fail(line, "template nested too deeply");
    }
    ~DepthGuard() { --p_->depth_; }
    Parser* p_;
  };

  // --- statements ---
  Body ParseBody(std::initializer_list<std::string_view> enders, std::string* ender) {
    DepthGuard guard(this, Peek().line);
    Body body;
    while (true) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kEnd) {
        if (enders.size() != 0) {
          Fail(t.line, "missing {% " + std::string(*enders.begin()) + " %} (the template ended)");
        }
        return body;
      }
      if (t.kind == TokenKind::kText) {
        auto s = NewStmt(StmtKind::kText);
        s->text = Next().text;
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kVarBegin) {
        Next();
        auto s = NewStmt(StmtKind::kOutput);
        s->expr = ParseExpr();
        Expect(TokenKind::kVarEnd, "'}}'");
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kBlockBegin) {
        const Token& kw = Peek(1);
        for (std::string_view e : enders) {
          if (kw.kind == TokenKind::kName && kw.text == e) {
            Next();
            *ender = Next().text;
            return body;
          }
        }
        Next();
        body.push_back(ParseStatement());
      } else {
        Unexpected("text or a tag");
      }
    }
  }

  std::unique_ptr<Stmt> NewStmt(StmtKind kind) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = Peek().line;
    return s;
  }

  std::unique_ptr<Stmt> ParseStatement() {
    const int line = Peek().line;
    if (Peek().kind != TokenKind::kName) Unexpected("a tag name");
    const std::string kw = Next().text;
    std::unique_ptr<Stmt> s;
    if (kw == "if") {
      s = ParseIf();
    } else if (kw == "for") {
      s = ParseFor();
    } else if (kw == "set") {
      s = ParseSet();
    } else if (kw == "macro") {
      s = ParseMacro();
    } else if (kw == "call") {
      s = ParseCallBlock();
    } else if (kw == "filter") {
      s = ParseFilterBlock();
    } else if (kw == "break" || kw == "continue") {
      s = NewStmt(kw == "break" ? StmtKind::kBreak : StmtKind::kContinue);
      Expect(TokenKind::kBlockEnd, "'%}'");
    } else {
      Fail(line, Cat({"unsupported tag '", kw, "'"}));
    }
    s->line = line;
    return s;
  }

  std::unique_ptr<Stmt> ParseIf() {
    auto s = NewStmt(StmtKind::kIf);
    s->conds.push_back(ParseExpr());
    Expect(TokenKind::kBlockEnd, "'%}'");
    while (true) {
      std::string ender;
      s->bodies.push_back(ParseBody({"endif", "elif", "else"}, &ender));
      if (ender == "elif") {
        s->conds.push_back(ParseExpr());
        Expect(TokenKind::kBlockEnd, "'%}'");
        continue;
      }
      Expect(TokenKind::kBlockEnd, "'%}'");
      if (ender == "else") {
        s->bodies.push_back(ParseBody({"endif"}, &ender));
        Expect(TokenKind::kBlockEnd, "'%}'");
      }
      return s;
    }
  }

  std::unique_ptr<Stmt> ParseFor() {
    auto s = NewStmt(StmtKind::kFor);
    const bool paren = AcceptOp("(");
    s->targets.push_back(ExpectName());
    while (AcceptOp(",")) s->targets.push_back(ExpectName());
    if (paren) ExpectOp(")");
    if (!AcceptName("in")) Unexpected("'in'");
    s->expr = ParseCondExpr(/*allow_if=*/false);
    if (AcceptName("if")) s->cond = ParseCondExpr(/*allow_if=*/false);
    if (IsName("recursive")) Fail(Peek().line, "recursive for loops are not supported");
    Expect(TokenKind::kBlockEnd, "'%}'");
    std::string ender;
    s->bodies.push_back(ParseBody({"endfor", "else"}, &ender));
    Expect(TokenKind::kBlockEnd, "'%}'");
    if (ender == "else") {
      s->bodies.push_back(ParseBody({"endfor"}, &ender));
      Expect(TokenKind::kBlockEnd, "'%}'");
    }
    return s;
  }

  std::unique_ptr<Stmt> ParseSet() {
    auto s = NewStmt(StmtKind::kSet);
    s->targets.push_back(ExpectName());
    if (AcceptOp(".")) s->text = ExpectName();
    if (IsOp(",")) Fail(Peek().line, "tuple assignment in set is not supported");
    if (AcceptOp("=")) {
      s->expr = ParseExpr();
      Expect(TokenKind::kBlockEnd, "'%}'");
      return s;
    }
    Expect(TokenKind::kBlockEnd, "'=' or '%}'");
    std::string ender;
    s->bodies.push_back(ParseBody({"endset"}, &ender));
    Expect(TokenKind::kBlockEnd, "'%}'");
    return s;
  }

  std::unique_ptr<Stmt> ParseMacro() {
    auto s = NewStmt(StmtKind::kMacro);
    s->text = ExpectName();
    ExpectOp("(");
    while (!AcceptOp(")")) {
      if (!s->targets.empty()) ExpectOp(",");
      s->targets.push_back(ExpectName());
      s->defaults.push_back(AcceptOp("=") ? ParseExpr() : nullptr);
    }
    Expect(TokenKind::kBlockEnd, "'%}'");
    std::string ender;
    s->bodies.push_back(ParseBody({"endmacro"}, &ender));
    if (Peek().kind == TokenKind::kName) Next();  // {% endmacro name %}
    Expect(TokenKind::kBlockEnd, "'%}'");
    return s;
  }

  std::unique_ptr<Stmt> ParseCallBlock() {
    auto s = NewStmt(StmtKind::kCallBlock);
    s->expr = ParseExpr();
    if (s->expr->kind != ExprKind::kCall) Fail(s->line, "{% call %} needs a macro call");
    Expect(TokenKind::kBlockEnd, "'%}'");
    std::string ender;
    s->bodies.push_back(ParseBody({"endcall"}, &ender));
    Expect(TokenKind::kBlockEnd, "'%}'");
    return s;
  }

  std::unique_ptr<Stmt> ParseFilterBlock() {
    auto s = NewStmt(StmtKind::kFilterBlock);
    auto f = Make(ExprKind::kFilter, Peek().line, ExpectName());
    f->args.push_back(Make(ExprKind::kLiteral, f->line));  // stands for the rendered body
    if (IsOp("(")) ParseCallArgs(f.get());
    s->expr = std::move(f);
    Expect(TokenKind::kBlockEnd, "'%}'");
    std::string ender;
    s->bodies.push_back(ParseBody({"endfilter"}, &ender));
    Expect(TokenKind::kBlockEnd, "'%}'");
    return s;
  }

  // --- expressions ---
  ExprPtr Make(ExprKind kind, int line, std::string name = "") {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    e->name = std::move(name);
    return e;
  }
  ExprPtr Binary(std::string op, ExprPtr l, ExprPtr r) {
    auto e = Make(ExprKind::kBinary, l->line, std::move(op));
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  // A top-level expression; `a, b` is a tuple (a list here).
  ExprPtr ParseExpr() {
    ExprPtr first = ParseCondExpr(true);
    if (!IsOp(",") || Peek(1).kind == TokenKind::kVarEnd || Peek(1).kind == TokenKind::kBlockEnd) {
      return first;
    }
    auto list = Make(ExprKind::kList, first->line);
    list->args.push_back(std::move(first));
    while (AcceptOp(",")) {
      if (Peek().kind == TokenKind::kVarEnd || Peek().kind == TokenKind::kBlockEnd) break;
      list->args.push_back(ParseCondExpr(true));
    }
    return list;
  }

  ExprPtr ParseCondExpr(bool allow_if) {
    DepthGuard guard(this, Peek().line);
    ExprPtr e = ParseOr();
    while (allow_if && IsName("if")) {
      Next();
      auto c = Make(ExprKind::kCondition, e->line);
      c->args.push_back(ParseOr());
      c->args.push_back(std::move(e));
      c->args.push_back(AcceptName("else") ? ParseCondExpr(true) : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr ParseOr() {
    ExprPtr e = ParseAnd();
    while (AcceptName("or")) e = Binary("or", std::move(e), ParseAnd());
    return e;
  }
  ExprPtr ParseAnd() {
    ExprPtr e = ParseNot();
    while (AcceptName("and")) e = Binary("and", std::move(e), ParseNot());
    return e;
  }
  ExprPtr ParseNot() {
    if (IsName("not")) {
      DepthGuard guard(this, Peek().line);
      auto e = Make(ExprKind::kUnary, Next().line, "not");
      e->args.push_back(ParseNot());
      return e;
    }
    return ParseCompare();
  }
  ExprPtr ParseCompare() {
    ExprPtr e = ParseMath1();
    while (true) {
      static constexpr const char* kOps[] = {"==", "!=", "<", ">", "<=", ">="};
      std::string op;
      for (const char* o : kOps) {
        if (IsOp(o)) op = o;
      }
      if (!op.empty()) {
        Next();
      } else if (IsName("in")) {
        Next();
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next();
        Next();
        op = "not in";
      } else {
        return e;
      }
      e = Binary(op, std::move(e), ParseMath1());
    }
  }
  ExprPtr ParseMath1() {
    ExprPtr e = ParseConcat();
    while (IsOp("+") || IsOp("-")) {
      std::string op = Next().text;
      e = Binary(op, std::move(e), ParseConcat());
    }
    return e;
  }
  ExprPtr ParseConcat() {
    ExprPtr e = ParseMath2();
    while (AcceptOp("~")) e = Binary("~", std::move(e), ParseMath2());
    return e;
  }
  ExprPtr ParseMath2() {
    ExprPtr e = ParsePow();
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Next().text;
      e = Binary(op, std::move(e), ParsePow());
    }
    return e;
  }
  ExprPtr ParsePow() {
    ExprPtr e = ParseUnary(true);
    while (AcceptOp("**")) e = Binary("**", std::move(e), ParseUnary(true));
    return e;
  }
  ExprPtr ParseUnary(bool with_filter) {
    DepthGuard guard(this, Peek().line);
    ExprPtr e;
    if (IsOp("-") || IsOp("+")) {
      e = Make(ExprKind::kUnary, Peek().line, Next().text);
      e->args.push_back(ParseUnary(false));
    } else {
      e = ParsePrimary();
    }
    e = ParsePostfix(std::move(e));
    if (with_filter) e = ParseFilters(std::move(e));
    return e;
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    const int line = t.line;
    switch (t.kind) {
      case TokenKind::kName: {
        std::string n = Next().text;
        auto lit = Make(ExprKind::kLiteral, line);
        if (n == "true" || n == "True") lit->literal = Value(true);
        else if (n == "false" || n == "False") lit->literal = Value(false);
        else if (n == "none" || n == "None") lit->literal = Value::Null();
        else return Make(ExprKind::kName, line, std::move(n));
        return lit;
      }
      case TokenKind::kString: {
        std::string s;
        while (Peek().kind == TokenKind::kString) s += Next().text;
        auto lit = Make(ExprKind::kLiteral, line);
        lit->literal = Value(std::move(s));
        return lit;
      }
      case TokenKind::kInt: {
        const std::string text = Next().text;
        errno = 0;
        const long long v = std::strtoll(text.c_str(), nullptr, 10);
        if (errno == ERANGE) Fail(line, "integer literal out of range");
        auto lit = Make(ExprKind::kLiteral, line);
        lit->literal = Value(static_cast<int64_t>(v));
        return lit;
      }
      case TokenKind::kFloat: {
        auto lit = Make(ExprKind::kLiteral, line);
        lit->literal = Value(std::strtod(Next().text.c_str(), nullptr));
        return lit;
      }
      case TokenKind::kOperator:
        if (AcceptOp("(")) {
          if (AcceptOp(")")) return Make(ExprKind::kList, line);
          ExprPtr e = ParseCondExpr(true);
          if (IsOp(",")) {
            auto list = Make(ExprKind::kList, line);
            list->args.push_back(std::move(e));
            while (AcceptOp(",") && !IsOp(")")) list->args.push_back(ParseCondExpr(true));
            e = std::move(list);
          }
          ExpectOp(")");
          return e;
        }
        if (AcceptOp("[")) {
          auto list = Make(ExprKind::kList, line);
          while (!AcceptOp("]")) {
            if (!list->args.empty()) ExpectOp(",");
            if (AcceptOp("]")) break;
            list->args.push_back(ParseCondExpr(true));
          }
          return list;
        }
        if (AcceptOp("{")) {
          auto dict = Make(ExprKind::kDict, line);
          while (!AcceptOp("}")) {
            if (!dict->args.empty()) ExpectOp(",");
            if (AcceptOp("}")) break;
            dict->args.push_back(ParseCondExpr(true));
            ExpectOp(":");
            dict->args.push_back(ParseCondExpr(true));
          }
          return dict;
        }
        break;
      default:
        break;
    }
    Unexpected("an expression");
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    while (true) {
      const int line = Peek().line;
      if (AcceptOp(".")) {
        auto a = Make(ExprKind::kGetAttr, line);
        if (Peek().kind == TokenKind::kInt) {
          a->kind = ExprKind::kGetItem;
          a->args.push_back(std::move(e));
          auto idx = Make(ExprKind::kLiteral, line);
          idx->literal = Value(static_cast<int64_t>(std::strtoll(Next().text.c_str(), nullptr, 10)));
          a->args.push_back(std::move(idx));
        } else {
          a->name = ExpectName();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (AcceptOp("[")) {
        e = ParseSubscript(std::move(e), line);
      } else if (IsOp("(")) {
        auto call = Make(ExprKind::kCall, line);
        call->args.push_back(std::move(e));
        ParseCallArgs(call.get());
        e = std::move(call);
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseSubscript(ExprPtr obj, int line) {
    ExprPtr start, stop, step;
    if (!IsOp(":")) start = ParseCondExpr(true);
    if (!AcceptOp(":")) {
      ExpectOp("]");
      auto item = Make(ExprKind::kGetItem, line);
      item->args.push_back(std::move(obj));
      item->args.push_back(std::move(start));
      return item;
    }
    if (!IsOp(":") && !IsOp("]")) stop = ParseCondExpr(true);
    if (AcceptOp(":") && !IsOp("]")) step = ParseCondExpr(true);
    ExpectOp("]");
    auto slice = Make(ExprKind::kSlice, line);
    slice->args.push_back(std::move(obj));
    slice->args.push_back(std::move(start));
    slice->args.push_back(std::move(stop));
    slice->args.push_back(std::move(step));
    return slice;
  }

  // `(a, b, k=v)` appended to e->args, keyword names to e->kwarg_names.
  void ParseCallArgs(Expr* e) {
    ExpectOp("(");
    bool first = true;
    while (!AcceptOp(")")) {
      if (!first) ExpectOp(",");
      first = false;
      if (AcceptOp(")")) break;
      if (Peek().kind == TokenKind::kName && IsOp("=", 1)) {
        e->kwarg_names.push_back(Next().text);
        Next();
      } else if (!e->kwarg_names.empty()) {
        Fail(Peek().line, "a positional argument follows a keyword argument");
      }
      e->args.push_back(ParseCondExpr(true));
    }
  }

  ExprPtr ParseFilters(ExprPtr e) {
    while (true) {
      const int line = Peek().line;
      if (AcceptOp("|")) {
        auto f = Make(ExprKind::kFilter, line, ExpectName());
        while (AcceptOp(".")) f->name += "." + ExpectName();
        f->args.push_back(std::move(e));
        if (IsOp("(")) ParseCallArgs(f.get());
        e = std::move(f);
      } else if (AcceptName("is")) {
        auto t = Make(ExprKind::kTest, line);
        t->negated = AcceptName("not");
        t->name = ExpectName();
        t->args.push_back(std::move(e));
        const Token& n = Peek();
        if (IsOp("(")) {
          ParseCallArgs(t.get());
        } else if ((n.kind == TokenKind::kName || n.kind == TokenKind::kString || n.kind == TokenKind::kInt ||
                    n.kind == TokenKind::kFloat || IsOp("[") || IsOp("{")) &&
                   !IsName("else") && !IsName("or") && !IsName("and") && !IsName("if") &&
                   !IsName("in") && !IsName("not") && !IsName("is")) {
          t->args.push_back(ParsePostfix(ParsePrimary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body Parse(std::string_view source) { return Parser(Lex(source)).ParseTemplate(); }

}  // namespace hearth::model::jinja
