#!/bin/bash
test ! -e out
