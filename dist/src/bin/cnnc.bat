@echo off
rem cnnc's launcher in a distribution: runs cnnc from the jars in ..\lib with the java of
rem JAVA_HOME, or the one on the PATH (Java 17 or newer). It fetches nothing.
rem JVM options: JAVA_OPTS, then CNNC_OPTS (the later wins), as bin/cnnc.
setlocal
set "CNNC_HOME=%~dp0.."
set "JAVA=java"
if defined JAVA_HOME set "JAVA=%JAVA_HOME%\bin\java"
set "MAIN=org.cnnc.cli.Main"
if exist "%CNNC_HOME%\lib\cnnc-run-*.jar" set "MAIN=org.cnnc.run.Cnnc"
if not defined OMP_WAIT_POLICY set "OMP_WAIT_POLICY=PASSIVE"
set "JVM="
if "%MAIN%"=="org.cnnc.run.Cnnc" (
  if "%~1"=="run" set "JVM=--add-modules jdk.incubator.vector"
  if "%~1"=="train" set "JVM=--add-modules jdk.incubator.vector"
  if "%~1"=="bench" set "JVM=--add-modules jdk.incubator.vector"
)
"%JAVA%" %JVM% %JAVA_OPTS% %CNNC_OPTS% "-Dcnnc.root=%CNNC_HOME%" -cp "%CNNC_HOME%\lib\*" %MAIN% %*
exit /b %ERRORLEVEL%
