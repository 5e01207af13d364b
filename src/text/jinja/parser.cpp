#include "text/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "core/error.h"

namespace mofa::text::jinja {
namespace {

// Deeper nesting than this (brackets, unary chains, blocks) is refused instead of recursing
// until the stack overflows.
constexpr int kMaxNesting = 200;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body parse_template() {
    std::string found;
    Body body = parse_body({}, found);
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxNesting) {
        parser.fail("template nested deeper than " + std::to_string(kMaxNesting) + " levels");
      }
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t n = 1) const { return tokens_[std::min(pos_ + n, tokens_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw InvalidInput("syntax error at line " + std::to_string(cur().line) + ": " + what);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::Text:
        return "template text";
      case TokenType::VarBegin:
        return "'{{'";
      case TokenType::VarEnd:
        return "end of print statement";
      case TokenType::BlockBegin:
        return "'{%'";
      case TokenType::BlockEnd:
        return "end of statement block";
      case TokenType::Name:
        return "'" + t.value + "'";
      case TokenType::String:
        return "string";
      case TokenType::Int:
      case TokenType::Float:
        return "number " + t.value;
      case TokenType::Op:
        return "'" + t.value + "'";
      case TokenType::End:
        return "end of template";
    }
    return "token";
  }

  bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().value == op; }
  bool is_name(const char* name) const {
    return cur().type == TokenType::Name && cur().value == name;
  }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail("expected a name, got " + describe(cur()));
    std::string name = cur().value;
    advance();
    return name;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) {
      fail("expected end of statement block, got " + describe(cur()));
    }
    advance();
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  StmtPtr make_stmt(StmtKind kind, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->line = line;
    return s;
  }

  // Parses statements until a {% tag %} whose name is in `ends` (consumed up to the name, which
  // goes to `found`); with no ends, until the end of the template.
  Body parse_body(std::initializer_list<const char*> ends, std::string& found) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.type) {
        case TokenType::End:
          if (ends.size() == 0) return body;
          fail(std::string("unexpected end of template, expected '") + *ends.begin() + "'");
        case TokenType::Text: {
          auto s = make_stmt(StmtKind::Text, t.line);
          s->text = t.value;
          body.push_back(std::move(s));
          advance();
          break;
        }
        case TokenType::VarBegin: {
          advance();
          auto s = make_stmt(StmtKind::Output, t.line);
          s->expr = parse_tuple();
          if (cur().type != TokenType::VarEnd) {
            fail("expected end of print statement, got " + describe(cur()));
          }
          advance();
          body.push_back(std::move(s));
          break;
        }
        case TokenType::BlockBegin: {
          advance();
          if (cur().type != TokenType::Name) fail("expected a tag name, got " + describe(cur()));
          for (const char* end : ends) {
            if (cur().value == end) {
              found = end;
              advance();
              return body;
            }
          }
          body.push_back(parse_statement());
          break;
        }
        default:
          fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    std::string tag = t.value;
    int line = t.line;
    advance();
    if (tag == "if") return parse_if(line);
    if (tag == "for") return parse_for(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "call") return parse_call_block(line);
    if (tag == "filter") return parse_filter_block(line);
    if (tag == "generation") {
      auto s = make_stmt(StmtKind::Generation, line);
      expect_block_end();
      std::string found;
      s->body = parse_body({"endgeneration"}, found);
      expect_block_end();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      auto s = make_stmt(tag == "break" ? StmtKind::Break : StmtKind::Continue, line);
      expect_block_end();
      return s;
    }
    fail("unknown tag '" + tag + "'");
  }

  StmtPtr parse_if(int line) {
    auto s = make_stmt(StmtKind::If, line);
    while (true) {
      s->conditions.push_back(parse_tuple());
      expect_block_end();
      std::string found;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, found));
      if (found == "elif") continue;
      if (found == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, found);
      }
      expect_block_end();
      return s;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    bool paren = skip_op("(");
    targets.push_back(expect_name());
    while (skip_op(",")) {
      if (is_name("in") || is_op("=") || is_op(")")) break;
      targets.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return targets;
  }

  StmtPtr parse_for(int line) {
    auto s = make_stmt(StmtKind::For, line);
    s->targets = parse_targets();
    if (!skip_name("in")) fail("expected 'in', got " + describe(cur()));
    s->expr = parse_tuple(false);
    if (skip_name("if")) s->filter = parse_expression();
    s->recursive = skip_name("recursive");
    expect_block_end();
    ++loop_depth_;
    std::string found;
    s->body = parse_body({"endfor", "else"}, found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      s->else_body = parse_body({"endfor"}, found);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(int line) {
    if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "." &&
        peek(2).type == TokenType::Name) {
      auto s = make_stmt(StmtKind::SetAttr, line);
      s->targets.push_back(cur().value);
      s->attr = peek(2).value;
      advance();
      advance();
      advance();
      expect_op("=");
      s->expr = parse_tuple();
      expect_block_end();
      return s;
    }
    std::vector<std::string> targets = parse_targets();
    if (skip_op("=")) {
      auto s = make_stmt(StmtKind::Set, line);
      s->targets = std::move(targets);
      s->expr = parse_tuple();
      expect_block_end();
      return s;
    }
    if (targets.size() != 1) fail("block assignment takes one name");
    auto s = make_stmt(StmtKind::SetBlock, line);
    s->targets = std::move(targets);
    if (skip_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    std::string found;
    s->body = parse_body({"endset"}, found);
    expect_block_end();
    return s;
  }

  void parse_params(Stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (is_op(")")) break;
      s.params.push_back(expect_name());
      if (skip_op("=")) {
        s.defaults.push_back(parse_expression());
      } else {
        s.defaults.push_back(nullptr);
      }
    }
    expect_op(")");
  }

  StmtPtr parse_macro(int line) {
    auto s = make_stmt(StmtKind::Macro, line);
    s->attr = expect_name();
    parse_params(*s);
    expect_block_end();
    int saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    s->body = parse_body({"endmacro"}, found);
    loop_depth_ = saved_loops;
    if (cur().type == TokenType::Name) advance();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block(int line) {
    auto s = make_stmt(StmtKind::CallBlock, line);
    if (is_op("(")) parse_params(*s);
    s->expr = parse_expression();
    if (s->expr->kind != ExprKind::Call) fail("expected a call after 'call'");
    expect_block_end();
    std::string found;
    s->body = parse_body({"endcall"}, found);
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(int line) {
    auto s = make_stmt(StmtKind::FilterBlock, line);
    s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    std::string found;
    s->body = parse_body({"endfilter"}, found);
    expect_block_end();
    return s;
  }

  // ---- expressions ----

  // A comma-separated list becomes a tuple; `{{ a, b }}` and `set a, b = 1, 2` use it.
  ExprPtr parse_tuple(bool with_condexpr = true) {
    int line = cur().line;
    ExprPtr first = with_condexpr ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto tuple = make(ExprKind::Tuple, line);
    tuple->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().type == TokenType::BlockEnd || cur().type == TokenType::VarEnd || is_op(")")) {
        break;
      }
      tuple->items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      advance();
      auto cond = make(ExprKind::Cond, line);
      cond->b = parse_or();
      cond->a = std::move(expr);
      if (skip_name("else")) cond->c = parse_expression();
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    auto e = make(ExprKind::Binary, line);
    e->name = op;
    e->a = std::move(left);
    e->b = std::move(right);
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      advance();
      left = binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      advance();
      left = binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(ExprKind::Unary, cur().line);
      advance();
      e->name = "not";
      e->object = parse_not();
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr expr = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().type == TokenType::Op &&
          (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
           cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
        op = cur().value;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare, line);
        cmp->items.push_back(std::move(expr));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(expr);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().value;
      int line = cur().line;
      advance();
      left = binary(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      advance();
      left = binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().value;
      int line = cur().line;
      advance();
      left = binary(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      advance();
      left = binary("**", std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto e = make(ExprKind::Unary, cur().line);
      e->name = cur().value;
      advance();
      e->object = parse_unary(false);
      node = std::move(e);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    switch (t.type) {
      case TokenType::Name: {
        auto e = make(ExprKind::Literal, line);
        if (t.value == "true" || t.value == "True") {
          e->value = Value(true);
        } else if (t.value == "false" || t.value == "False") {
          e->value = Value(false);
        } else if (t.value == "none" || t.value == "None") {
          e->value = Value::none();
        } else {
          e->kind = ExprKind::Name;
          e->name = t.value;
        }
        advance();
        return e;
      }
      case TokenType::String: {
        std::string s;
        while (cur().type == TokenType::String) {
          s += cur().value;
          advance();
        }
        auto e = make(ExprKind::Literal, line);
        e->value = Value(std::move(s));
        return e;
      }
      case TokenType::Int: {
        auto e = make(ExprKind::Literal, line);
        int64_t v = 0;
        auto res = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
        if (res.ec != std::errc()) fail("integer literal " + t.value + " out of range");
        e->value = Value(v);
        advance();
        return e;
      }
      case TokenType::Float: {
        auto e = make(ExprKind::Literal, line);
        e->value = Value(std::strtod(t.value.c_str(), nullptr));
        advance();
        return e;
      }
      case TokenType::Op:
        if (t.value == "(") {
          advance();
          if (skip_op(")")) {
            auto e = make(ExprKind::Tuple, line);
            return e;
          }
          ExprPtr inner = parse_tuple();
          expect_op(")");
          return inner;
        }
        if (t.value == "[") {
          advance();
          auto e = make(ExprKind::List, line);
          while (!is_op("]")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("]")) break;
            e->items.push_back(parse_expression());
          }
          expect_op("]");
          return e;
        }
        if (t.value == "{") {
          advance();
          auto e = make(ExprKind::Dict, line);
          while (!is_op("}")) {
            if (!e->items.empty()) expect_op(",");
            if (is_op("}")) break;
            e->items.push_back(parse_expression());
            expect_op(":");
            e->items.push_back(parse_expression());
          }
          expect_op("}");
          return e;
        }
        break;
      default:
        break;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        int line = cur().line;
        advance();
        if (cur().type == TokenType::Name) {
          auto e = make(ExprKind::GetAttr, line);
          e->name = cur().value;
          e->object = std::move(node);
          advance();
          node = std::move(e);
        } else if (cur().type == TokenType::Int) {
          auto e = make(ExprKind::GetItem, line);
          e->object = std::move(node);
          e->a = parse_primary();
          node = std::move(e);
        } else {
          fail("expected name or number after '.', got " + describe(cur()));
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    int line = cur().line;
    advance();
    ExprPtr parts[3];
    int colons = 0;
    bool has_index = false;
    while (!is_op("]")) {
      if (skip_op(":")) {
        if (++colons > 2) fail("too many ':' in slice");
        continue;
      }
      if (parts[colons]) fail("expected ':' or ']' in subscript, got " + describe(cur()));
      parts[colons] = parse_tuple();
      has_index = true;
    }
    expect_op("]");
    if (colons == 0) {
      if (!has_index) fail("empty subscript");
      auto e = make(ExprKind::GetItem, line);
      e->object = std::move(node);
      e->a = std::move(parts[0]);
      return e;
    }
    auto e = make(ExprKind::Slice, line);
    e->object = std::move(node);
    e->a = std::move(parts[0]);
    e->b = std::move(parts[1]);
    e->c = std::move(parts[2]);
    return e;
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "=") {
        std::string key = cur().value;
        advance();
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (!e.kwargs.empty()) fail("positional argument follows keyword argument");
        e.items.push_back(parse_expression());
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(ExprKind::Call, cur().line);
    e->object = std::move(node);
    parse_call_args(*e);
    return e;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(".") && peek().type == TokenType::Name) {
      advance();
      name += "." + cur().value;
      advance();
    }
    return name;
  }

  // One or more `name(args)` filters joined by '|', applied to `node` (null for filter blocks).
  ExprPtr parse_filter_chain(ExprPtr node) {
    while (true) {
      auto e = make(ExprKind::Filter, cur().line);
      e->name = parse_dotted_name();
      if (is_op("(")) parse_call_args(*e);
      e->object = std::move(node);
      node = std::move(e);
      if (!skip_op("|")) return node;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        advance();
        auto e = make(ExprKind::Filter, cur().line);
        e->name = parse_dotted_name();
        if (is_op("(")) parse_call_args(*e);
        e->object = std::move(node);
        node = std::move(e);
      } else if (is_name("is")) {
        auto e = make(ExprKind::Test, cur().line);
        advance();
        e->negated = skip_name("not");
        e->name = parse_dotted_name();
        if (is_op("(")) {
          parse_call_args(*e);
        } else if ((cur().type == TokenType::Name || cur().type == TokenType::String ||
                    cur().type == TokenType::Int || cur().type == TokenType::Float || is_op("(") ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("You cannot chain multiple tests with is");
          e->items.push_back(parse_postfix(parse_primary()));
        }
        e->object = std::move(node);
        node = std::move(e);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens) {
  return Parser(tokens).parse_template();
}

}  // namespace mofa::text::jinja
