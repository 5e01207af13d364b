#pragma once
// The syntax tree of a parsed template: expressions and statements as tagged structs that the
// interpreter walks.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/jinja/value.h"

namespace mofa::text::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class ExprKind {
  Literal,  // value
  Name,     // name
  List,     // items
  Tuple,    // items (a list at run time)
  Dict,     // items as key, value pairs
  GetAttr,  // object.name
  GetItem,  // object[index]
  Slice,    // object[start:stop:step]; absent parts are null
  Call,     // callee(args, kwargs)
  Filter,   // object | name(args, kwargs)
  Test,     // object is [not] name(args, kwargs)
  Unary,    // op: "-", "+", "not"
  Binary,   // op: + - * / // % ** ~ and or in "not in" == != < <= > >=
  Compare,  // chained comparisons: operand, then (op, operand)...
  Cond,     // then if cond else otherwise
};

struct Expr {
  ExprKind kind;
  int line = 0;
  Value value;                 // Literal
  std::string name;            // Name, GetAttr attribute, Filter/Test name, Unary/Binary op
  bool negated = false;        // Test with "is not"
  ExprPtr object;              // GetAttr, GetItem, Slice, Call callee, Filter/Test subject, Unary
  ExprPtr a, b, c;             // Binary (a, b), GetItem (a), Slice (a, b, c), Cond (a if b else c)
  std::vector<ExprPtr> items;  // List/Tuple items, Dict keys/values interleaved, Call/Filter args
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // Call/Filter/Test keyword arguments
  std::vector<std::string> ops;                         // Compare operators
};

enum class StmtKind {
  Text,         // text
  Output,       // {{ expr }}
  If,           // conditions[i] guard bodies[i]; else_body
  For,          // targets in iter [if filter]: body; else_body
  Set,          // targets = expr
  SetAttr,      // {% set ns.attr = expr %}: target, attr, expr
  SetBlock,     // {% set x %}body{% endset %}
  Macro,        // name(params = defaults): body
  CallBlock,    // {% call macro(...) %}body{% endcall %}: expr, params
  FilterBlock,  // {% filter name %}body{% endfilter %}: expr is the filter applied to a placeholder
  Break,
  Continue,
  Generation,  // transformers' {% generation %}: renders its body
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;                  // Text
  ExprPtr expr;                      // Output, For iterable, Set value, SetAttr value, CallBlock
  ExprPtr filter;                    // For's if clause
  std::vector<ExprPtr> conditions;   // If
  std::vector<Body> bodies;          // If branches
  Body body;                         // For, SetBlock, Macro, CallBlock, FilterBlock, Generation
  Body else_body;                    // If, For
  std::vector<std::string> targets;  // For/Set names (several when unpacking)
  std::string attr;                  // SetAttr
  std::vector<std::string> params;   // Macro/CallBlock parameter names
  std::vector<ExprPtr> defaults;     // Macro/CallBlock defaults (null where none)
  bool recursive = false;            // For ... recursive
};

}  // namespace mofa::text::jinja
