/**
 * The one entry of a one-file bundle (an AppImage). The same name in every version, so that a patch pairs
 * the old file with the new one; on the user's machine the file keeps its own name (`$APPIMAGE`), and the
 * client reads the running file as this entry when it rebuilds a patch base.
 */
export const ONE_FILE_ENTRY = 'app.AppImage';
