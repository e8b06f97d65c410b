// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.onnx.ImportException;
import org.cnnc.onnx.OnnxImport;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "import", mixinStandardHelpOptions = true,
    description = {"Write an ONNX model (a CNN, opset 13 to 21, as torch.onnx.export or cnnc export writes it) as a "
        + ".cnn spec, and its weights as an .npz that loads into the spec by name.",
        "Exit 1 when the model uses an op or attribute cnnc lacks (the message names the node), or is not a valid model; "
        + "2 when a file cannot be read or written."})
public final class ImportCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model.")
  Path file;

  @Option(names = {"-o", "--output"}, paramLabel = "SPEC.cnn",
      description = "Write the spec there (default: standard output).")
  Path output;

  @Option(names = "--weights", paramLabel = "W.npz",
      description = "Write the weights there (default: beside -o, with .npz; none without -o).")
  Path weights;

  @Option(names = "--name", paramLabel = "NAME",
      description = "The model's name in the spec (default: cnnc's name in the model's metadata, else the file's name).")
  String name;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (name != null && !name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new Main.UsageError("--name " + name + " is not a cnnc name (letters, digits and _, not starting with a digit)");
    }
    Path npz = weights;
    if (npz == null && output != null) {
      String base = output.getFileName().toString().replaceAll("\\.cnn$", "");
      npz = output.resolveSibling(base + ".npz");
    }
    ModelProto model;
    OnnxImport.Result r;
    try {
      if (!Files.exists(file)) {
        throw new Main.UsageError(file + ": no such file");
      }
      if (output != null) {
        SafeFiles.checkWritable(output);
      }
      if (npz != null) {
        SafeFiles.checkWritable(npz);
      }
      model = OnnxImport.readModel(file);
      String fileName = file.getFileName() == null ? "model" : file.getFileName().toString();
      r = OnnxImport.importModel(model, name, fileName, fileName, new Main.Version().versionText());
    } catch (ImportException e) {
      Main.printError(err, file + ": " + e.getMessage());
      return Main.SPEC_ERRORS;
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
    try {
      if (npz != null) {
        Npz.write(npz, r.weights());
      }
      if (output != null) {
        SafeFiles.write(output, r.spec());
      } else {
        out.print(r.spec());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    }
    for (String note : r.notes()) {
      err.println("cnnc: note: " + Escape.terminal(note));
    }
    err.printf("cnnc: imported %s: %d layers, %,d parameters, %,d buffers, %,d MACs%s%s%n", r.modelName(),
        r.network().nodes().size(), r.network().paramCount(), r.network().bufferCount(), r.network().macs(),
        output == null ? "" : "; spec " + Escape.terminal(output.toString()),
        npz == null ? "; no weights written (--weights W.npz)" : "; weights " + Escape.terminal(npz.toString())
            + " (" + r.weights().size() + " tensors)");
    return Main.OK;
  }
}
