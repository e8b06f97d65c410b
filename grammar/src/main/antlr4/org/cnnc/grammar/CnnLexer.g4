// SPDX-License-Identifier: Apache-2.0
// The tokens of the .cnn language.
// Whitespace (newlines included) separates tokens and is otherwise insignificant:
// items of a chain are separated by a newline, a space or `->` alike.
lexer grammar CnnLexer;

PACKAGE : 'package';
IMPORT  : 'import';
MODEL   : 'model';
BLOCK   : 'block';
INPUT   : 'input';
OUTPUT  : 'output';
FROM    : 'from';
REPEAT  : 'repeat';
AS      : 'as';
// The merges of the op registry (Ops: concat, add, mul), one token: the compiler reads which
// from its text, and a test keeps this list equal to the registry's merges.
MERGE   : 'concat' | 'add' | 'mul';
WITH    : 'with';
EXPECT  : 'expect';
TRUE    : 'true';
FALSE   : 'false';

ARROW   : '->';
LE      : '<=';
DOTDOT  : '..';
LPAREN  : '(';
RPAREN  : ')';
LBRACE  : '{';
RBRACE  : '}';
LBRACK  : '[';
RBRACK  : ']';
COMMA   : ',';
COLON   : ':';
ASSIGN  : '=';
DOT     : '.';
PLUS    : '+';
MINUS   : '-';
STAR    : '*';
SLASH   : '/';
PERCENT : '%';

FLOAT
    : DIGITS '.' DIGITS EXPONENT?
    | DIGITS EXPONENT
    ;
INT     : DIGITS;
STRING  : '"' ( ~["\\\r\n] | '\\' ~[\r\n] )* '"';
ID      : [a-zA-Z_] [a-zA-Z0-9_]*;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN);
WS            : [ \t\r\n\f]+ -> skip;

// Malformed input becomes tokens on their own channel, so that the syntax layer reports
// each one once, in words, and the parser carries on with the rest of the file.
UNTERMINATED_COMMENT : '/*' ( ~'*' | '*'+ ~[*/] )* '*'* EOF -> channel(2);
UNTERMINATED_STRING  : '"' ( ~["\\\r\n] | '\\' ~[\r\n] )* ( '\\' )? -> channel(2);
BAD_CHAR             : . -> channel(2);

fragment DIGITS   : [0-9] ( '_'? [0-9] )*;
fragment EXPONENT : [eE] [+-]? [0-9]+;
