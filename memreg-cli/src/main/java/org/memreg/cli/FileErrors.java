package org.memreg.cli;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** Says in words why a file operation failed: the JDK's file exceptions often carry only a path. */
final class FileErrors {
    private FileErrors() {
    }

    /** Why {@code e} happened, naming the file, such as "permission denied on /x". */
    static String reason(Exception e) {
        return switch (e) {
            case FileAlreadyExistsException f -> f.getFile() + " exists and is not a folder";
            case AccessDeniedException a -> "permission denied on " + a.getFile();
            case NoSuchFileException n -> n.getFile() + " does not exist";
            case NotDirectoryException n -> n.getFile() + " is not a folder";
            case FileSystemException f when f.getReason() != null -> f.getFile() + ": " + f.getReason();
            case FileSystemException f -> "could not create " + f.getFile();
            default -> e.getMessage() != null ? e.getMessage() : e.toString();
        };
    }
}
