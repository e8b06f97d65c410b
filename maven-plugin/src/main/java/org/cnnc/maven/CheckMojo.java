// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import java.io.File;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

/** Checks the specs under {@code src/main/cnn} and reports every problem; writes no sources. */
@Mojo(name = "check", defaultPhase = LifecyclePhase.VALIDATE, threadSafe = true)
public class CheckMojo extends AbstractCnnMojo {
  @Parameter(property = "cnnc.sourceDirectory", defaultValue = "${project.basedir}/src/main/cnn")
  private File sourceDirectory;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    execute(sourceDirectory, new File(project.getBuild().getDirectory(), "cnnc/unused"), "check", false);
  }
}
