#!/bin/bash
test ! -e out/F.java
