// GBNF parsing (valid grammars and every error) and the byte-level matcher on hand-written
// grammars, plus token masks over a small vocabulary trie.
#include "text/grammar.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "text/grammar/matcher.h"
#include "text/grammar/token_table.h"

namespace mofa::text {
namespace {

// Whether `input` is a complete sentence of `gbnf`.
bool full(const std::string& gbnf, const std::string& input) {
  GrammarMatcher m(Grammar::parse(gbnf));
  return m.accept_bytes(input) && m.is_complete();
}

// Whether `input` is a prefix of some sentence.
bool prefix(const std::string& gbnf, const std::string& input) {
  GrammarMatcher m(Grammar::parse(gbnf));
  return m.accept_bytes(input);
}

std::string parse_error(const std::string& gbnf) {
  try {
    Grammar::parse(gbnf);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GrammarParse, LiteralsAlternativesAndGroups) {
  const std::string g = "root ::= \"ab\" | \"c\" (\"d\" | \"e\")";
  EXPECT_TRUE(full(g, "ab"));
  EXPECT_TRUE(full(g, "cd"));
  EXPECT_TRUE(full(g, "ce"));
  EXPECT_FALSE(full(g, "c"));
  EXPECT_FALSE(prefix(g, "cf"));
  EXPECT_FALSE(prefix(g, "abx"));
}

TEST(GrammarParse, EscapesInLiteralsAndClasses) {
  EXPECT_TRUE(full("root ::= \"a\\n\\t\\\\\\\"\\x41\\u00e9\\U0001F600\"",
                   "a\n\t\\\"A\xC3\xA9\xF0\x9F\x98\x80"));
  EXPECT_TRUE(full("root ::= [\\]\\[\\-]+", "][-"));
  EXPECT_TRUE(full("root ::= \"\\r\"", "\r"));
}

TEST(GrammarParse, ClassesRangesNegationAndDot) {
  const std::string g = "root ::= [a-c0-9] [^x-z] .";
  EXPECT_TRUE(full(g, "b5\xC3\xA9"));  // '.' takes a multi-byte character
  EXPECT_TRUE(full(g, "7qq"));
  EXPECT_FALSE(prefix(g, "d"));
  EXPECT_FALSE(prefix(g, "ay"));
  EXPECT_TRUE(full("root ::= [^\"\\\\]*", "anything \xE4\xB8\xAD"));
  EXPECT_FALSE(prefix("root ::= [^\"\\\\]*", "a\"b"));
}

TEST(GrammarParse, RepetitionOperators) {
  const std::string star = "root ::= \"a\"* \"b\"";
  EXPECT_TRUE(full(star, "b"));
  EXPECT_TRUE(full(star, "aaaab"));
  const std::string plus = "root ::= \"ab\"+";
  EXPECT_FALSE(full(plus, ""));
  EXPECT_TRUE(full(plus, "ababab"));
  EXPECT_FALSE(prefix(plus, "aba b"));
  const std::string opt = "root ::= \"x\"? \"y\"";
  EXPECT_TRUE(full(opt, "y"));
  EXPECT_TRUE(full(opt, "xy"));
  EXPECT_FALSE(prefix(opt, "xx"));
}

TEST(GrammarParse, BoundedRepetition) {
  const std::string g = "root ::= [0-9]{2,4}";
  EXPECT_FALSE(full(g, "1"));
  EXPECT_TRUE(full(g, "12"));
  EXPECT_TRUE(full(g, "1234"));
  EXPECT_FALSE(prefix(g, "12345"));
  EXPECT_TRUE(full("root ::= \"a\"{3}", "aaa"));
  EXPECT_FALSE(full("root ::= \"a\"{3}", "aa"));
  EXPECT_FALSE(prefix("root ::= \"a\"{3}", "aaaa"));
  EXPECT_TRUE(full("root ::= \"a\"{2,}", "aaaaaaa"));
  EXPECT_FALSE(full("root ::= \"a\"{2,}", "a"));
  EXPECT_TRUE(full("root ::= (\"ab\" \"c\"?){0,2}", "abcab"));
  EXPECT_TRUE(full("root ::= \"a\"{0}", ""));
}

TEST(GrammarParse, NestedRulesCommentsAndMultiLine) {
  const std::string g = R"G(# a comment line
root   ::= "(" list ")"   # trailing comment
list   ::= item ("," item)*
item   ::= [a-z]+
       | "(" list ")"
)G";
  EXPECT_TRUE(full(g, "(a,bc,(d,(e)))"));
  EXPECT_FALSE(full(g, "(a,"));
  EXPECT_TRUE(prefix(g, "(a,"));
  EXPECT_FALSE(prefix(g, "(a,,"));
  const std::string spread = "root ::= (\n  \"a\"\n  | \"b\"\n)\n";
  EXPECT_TRUE(full(spread, "b"));
}

TEST(GrammarParse, OtherRootName) {
  auto g = Grammar::parse("start ::= \"s\" other\nother ::= \"o\"", "start");
  GrammarMatcher m(g);
  EXPECT_TRUE(m.accept_bytes("so"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
}

TEST(GrammarParse, EmptyAlternative) {
  EXPECT_TRUE(full("root ::= \"a\" | ", ""));
  EXPECT_TRUE(full("root ::= \"a\" | ", "a"));
}

TEST(GrammarParseErrors, EachErrorNamesLineAndColumn) {
  EXPECT_NE(parse_error("root ::= \"a\"\nbad").find("line 2, column 4"), std::string::npos)
      << parse_error("root ::= \"a\"\nbad");
  EXPECT_NE(parse_error("root ::= \"a\"\nbad").find("'::='"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"abc").find("unterminated string literal"), std::string::npos);
  EXPECT_NE(parse_error("root ::= [abc").find("unterminated character class"), std::string::npos);
  EXPECT_NE(parse_error("root ::= (\"a\"").find("expected ')'"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{3,1}").find("n < m"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{x}").find("expected a number"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{2").find("expected '}'"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"\\q\"").find("unknown escape"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"\\x4\"").find("hex digits"), std::string::npos);
  EXPECT_NE(parse_error("root ::= [z-a]").find("reversed"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\" @").find("unexpected character '@'"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"{99999}").find("repetition count"), std::string::npos);
  EXPECT_NE(parse_error("::= \"a\"").find("expected a rule name"), std::string::npos);
}

TEST(GrammarParseErrors, UndefinedRuleMissingRootDuplicateAndLeftRecursion) {
  const std::string undefined = parse_error("root ::= \"a\" thing");
  EXPECT_NE(undefined.find("undefined rule 'thing'"), std::string::npos);
  EXPECT_NE(undefined.find("line 1, column 14"), std::string::npos) << undefined;
  EXPECT_NE(parse_error("other ::= \"a\"").find("no rule named 'root'"), std::string::npos);
  EXPECT_NE(parse_error("root ::= \"a\"\nroot ::= \"b\"").find("defined twice"), std::string::npos);
  const std::string left = parse_error("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"");
  EXPECT_NE(left.find("left-recursive"), std::string::npos) << left;
  EXPECT_NE(left.find("line 2"), std::string::npos) << left;
  // Left recursion through a nullable prefix, and a repetition of something empty.
  EXPECT_NE(parse_error("root ::= e? root \"x\" | \"y\"\ne ::= \"e\"").find("left-recursive"),
            std::string::npos);
  EXPECT_NE(parse_error("root ::= (\"a\"?)*").find("left-recursive"), std::string::npos);
}

TEST(GrammarMatcher, PartialUtf8AcrossCallsAndRejectsInvalidBytes) {
  GrammarMatcher m(Grammar::parse("root ::= [\\u4e00-\\u9fff]+"));
  EXPECT_TRUE(m.accept_bytes("\xE4"));  // first byte of U+4E2D
  EXPECT_FALSE(m.is_complete());
  EXPECT_TRUE(m.accept_bytes("\xB8\xAD"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_accept_bytes("\xC3\xA9"));  // é is outside the class
  EXPECT_FALSE(m.can_accept_bytes("\xC3"));      // no 2-byte character is inside it
  EXPECT_FALSE(m.can_accept_bytes("\xB8"));      // a continuation byte with no lead
  GrammarMatcher any(Grammar::parse("root ::= .*"));
  EXPECT_FALSE(any.can_accept_bytes("\xED\xA0\x80"));  // a UTF-16 surrogate is not UTF-8
  EXPECT_FALSE(any.can_accept_bytes("\xC0\xAF"));      // overlong
  EXPECT_TRUE(any.can_accept_bytes("\xF0\x9F\x98\x80"));
}

TEST(GrammarMatcher, CompletionAndNothingMoreCanFollow) {
  GrammarMatcher m(Grammar::parse("root ::= \"yes\" | \"yes!\""));
  EXPECT_TRUE(m.accept_bytes("yes"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_TRUE(m.can_continue());
  EXPECT_TRUE(m.accept_bytes("!"));
  EXPECT_TRUE(m.is_complete());
  EXPECT_FALSE(m.can_continue());
  EXPECT_FALSE(m.accept_bytes("!"));
}

TEST(GrammarMatcher, DeepRightRecursionKeepsWorking) {
  GrammarMatcher m(
      Grammar::parse("root ::= \"[\" item* \"]\"\nitem ::= [a-z] | \"(\" item* \")\""));
  std::string s = "[";
  for (int i = 0; i < 2000; ++i) s += "a";
  for (int i = 0; i < 50; ++i) s += "(";
  for (int i = 0; i < 50; ++i) s += ")";
  s += "]";
  ASSERT_TRUE(m.accept_bytes(s));
  EXPECT_TRUE(m.is_complete());
}

TEST(GrammarMatcher, ShortestCompletionFinishesTheSentence) {
  auto g = Grammar::parse(
      "root ::= \"{\" ws (pair (\",\" ws pair)*)? \"}\"\n"
      "pair ::= \"\\\"\" [^\"]* \"\\\"\" \":\" ws ([0-9]+ | root)\nws ::= [ ]*");
  for (const char* start : {"{", "{\"ke", "{\"key\":", "{\"k\": {\"j\": 12", "{\"a\":1}"}) {
    GrammarMatcher m(g);
    ASSERT_TRUE(m.accept_bytes(start)) << start;
    const auto rest = m.shortest_completion();
    ASSERT_TRUE(rest.has_value()) << start;
    EXPECT_TRUE(m.accept_bytes(*rest)) << start << " + " << *rest;
    EXPECT_TRUE(m.is_complete()) << start << " + " << *rest;
  }
  GrammarMatcher done(g);
  ASSERT_TRUE(done.accept_bytes("{}"));
  EXPECT_EQ(done.shortest_completion(), std::string());
  GrammarMatcher partial(Grammar::parse("root ::= [^a]+"));
  ASSERT_TRUE(partial.accept_bytes("\xE4"));
  EXPECT_FALSE(partial.shortest_completion().has_value());  // mid-character
}

TokenTable small_vocab() {
  std::vector<std::string> bytes = {"{",    "}",        "\"", "a",  "ab", "abc", "\"a",
                                    "\xE4", "\xB8\xAD", "1",  "12", "",   "x",   "\"}"};
  std::vector<TokenTable::Kind> kinds(bytes.size(), TokenTable::Kind::text);
  kinds[11] = TokenTable::Kind::eos;
  return TokenTable(bytes, kinds);
}

std::vector<int32_t> allowed(GrammarMatcher& m, const TokenTable& t) {
  const auto& mask = m.allowed_tokens(t);
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < t.size(); ++i)
    if (mask[static_cast<size_t>(i) / 64] >> (i % 64) & 1) ids.push_back(i);
  return ids;
}

TEST(GrammarTokens, MaskMatchesPerTokenChecks) {
  const TokenTable t = small_vocab();
  GrammarMatcher m(Grammar::parse("root ::= \"{\" \"\\\"\" [a-c\\u4e2d]* \"\\\"\" \"}\""));
  EXPECT_EQ(allowed(m, t), std::vector<int32_t>({0}));
  ASSERT_TRUE(m.accept_token(t, 0));
  EXPECT_EQ(allowed(m, t), std::vector<int32_t>({2, 6}));
  ASSERT_TRUE(m.accept_token(t, 6));  // "a
  EXPECT_EQ(allowed(m, t), std::vector<int32_t>({2, 3, 4, 5, 7, 13}));
  for (int32_t id = 0; id < t.size(); ++id) {
    const auto ids = allowed(m, t);
    const bool in_mask = std::find(ids.begin(), ids.end(), id) != ids.end();
    EXPECT_EQ(m.accepts_token(t, id), in_mask) << "token " << id;
  }
  ASSERT_TRUE(m.accept_token(t, 7));  // half of 中
  EXPECT_EQ(allowed(m, t), std::vector<int32_t>({8}));
  ASSERT_TRUE(m.accept_token(t, 8));
  EXPECT_FALSE(m.accepts_token(t, 11));  // eos before the end
  ASSERT_TRUE(m.accept_token(t, 13));    // "}
  EXPECT_TRUE(m.is_complete());
  EXPECT_EQ(allowed(m, t), std::vector<int32_t>({11}));  // only eos
}

TEST(GrammarTokens, TrieSkipsWholeSubtrees) {
  const TokenTable t = small_vocab();
  // Preorder: a node's subtree ends where the next sibling starts.
  const auto& trie = t.trie();
  ASSERT_FALSE(trie.empty());
  for (size_t i = 0; i < trie.size(); ++i) {
    EXPECT_GT(trie[i].end, i);
    EXPECT_LE(trie[i].end, trie.size());
    for (size_t k = i + 1; k < trie[i].end; ++k) EXPECT_GT(trie[k].depth, trie[i].depth);
  }
  EXPECT_EQ(t.kind(11), TokenTable::Kind::eos);
}

}  // namespace
}  // namespace mofa::text
