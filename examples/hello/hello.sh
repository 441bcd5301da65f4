#!/bin/sh
echo "$GREETING from $(hostname), an image rbox built ($(cat built.txt))"
