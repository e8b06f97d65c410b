// SPDX-License-Identifier: Apache-2.0
// The syntax of the .cnn language. See README.md, "The language", for what each form means.
parser grammar CnnParser;

options { tokenVocab = CnnLexer; }

file        : packageDecl? importDecl* decl* EOF;
packageDecl : PACKAGE qualifiedName;
qualifiedName : ID (DOT ID)*;
importDecl  : IMPORT STRING;
decl        : blockDecl | modelDecl;

blockDecl   : BLOCK name=ID LPAREN paramList? RPAREN body;
modelDecl   : MODEL name=ID (LPAREN paramList? RPAREN)? body;
paramList   : param (COMMA param)* COMMA?;
param       : name=ID (COLON type=ID)? (ASSIGN expr)?;

body        : LBRACE stmt* RBRACE;

stmt
    : INPUT name=ID? shape                                        # inputStmt
    | OUTPUT name=ID (ASSIGN chain)? (FROM ref=nodeName)? (WITH argList)? # outputStmt
    | EXPECT INPUT LBRACK dimRange (COMMA dimRange)* COMMA? RBRACK # expectInputStmt
    | EXPECT what=ID LE expr                                      # expectStmt
    | chain (FROM ref=nodeName)?                                  # chainStmt
    ;

chain       : element (ARROW element)*;
element     : (label=nodeName COLON)? term (COLON shape)?;

// A label, or a reference to one: a name, or a quoted name for what PyTorch calls a module but
// the language cannot write bare (a keyword such as `block`, or `block1-0`).
nodeName    : ID | STRING;

term
    : name=ID (LPAREN argList? RPAREN)?                            # callTerm
    | body                                                         # groupTerm
    | op=MERGE LPAREN branch (COMMA branch)* COMMA? RPAREN         # mergeTerm
    | REPEAT expr (AS var=ID)? body                                # repeatTerm
    ;

branch
    : chain (FROM ref=nodeName)?     # chainBranch
    | FROM ref=nodeName (ARROW chain)? # refBranch
    ;

argList     : arg (COMMA arg)* COMMA?;
arg         : (name=ID ASSIGN)? expr (ARROW expr)?;

dimRange    : expr (DOTDOT expr)?;

shape       : LBRACK (expr (COMMA expr)*)? COMMA? RBRACK;

expr
    : LPAREN expr RPAREN                       # parenExpr
    | MINUS expr                               # negExpr
    | expr op=(STAR | SLASH | PERCENT) expr    # mulExpr
    | expr op=(PLUS | MINUS) expr              # addExpr
    | INT                                      # intExpr
    | FLOAT                                    # floatExpr
    | (TRUE | FALSE)                           # boolExpr
    | STRING                                   # stringExpr
    | ID                                       # nameExpr
    | LBRACK (expr (COMMA expr)*)? COMMA? RBRACK # listExpr
    ;
