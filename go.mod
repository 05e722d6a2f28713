module github.com/corogo/corogo

go 1.26
