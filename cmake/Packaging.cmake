# `make package`: a Debian package (CPack's DEB generator) with the server, its systemd unit and its
# config (docs/operations.md). What goes where:
#   /usr/bin/switchboard                      the server
#   /lib/systemd/system/switchboard.service   the unit: switchboard user, Type=notify, hardening
#   /etc/switchboard/switchboard.toml         the config, a conffile (an upgrade keeps edits)
#   /usr/share/switchboard/web                the dashboard and demo pages, when built (`make web`)
#   /usr/share/doc/switchboard                the full example config and the operations guide
# The maintainer scripts in packaging/debian create the user and /var/lib/switchboard and start
# the service.

# `install` (hence cpack) must not build every test and benchmark first: `make package` builds the
# server, which is all the package holds.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

include(GNUInstallDirs)
install(TARGETS switchboard RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Debian 12 ships units under /lib (merged /usr makes it the same place as /usr/lib).
install(FILES packaging/switchboard.service DESTINATION /lib/systemd/system)
install(FILES packaging/switchboard.toml DESTINATION /etc/switchboard)
install(DIRECTORY web/dist/ DESTINATION ${CMAKE_INSTALL_DATADIR}/switchboard/web OPTIONAL)
install(FILES config/switchboard.example.toml docs/operations.md docs/configuration.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Switchboard maintainers <switchboard@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "real-time messaging server (WebSocket channels, HTTP publish API)")
set(CPACK_PACKAGE_DESCRIPTION "Switchboard serves WebSocket clients subscribed to channels and an HTTP API \
that publishes to them, with history and recovery, presence, JWT authentication, and clustering over Redis.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages come from dpkg-shlibdeps (dpkg-dev); adduser is for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
    ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

if(SWITCHBOARD_TESTS)
  # Builds the package in a scratch directory, checks its contents and unit, unpacks it into a
  # scratch root; and checks the server's sd_notify messages (tests/package/run.sh). About 20 s;
  # the long timeout is for the container image, built only where `docker info` works.
  add_test(NAME package COMMAND ${CMAKE_SOURCE_DIR}/tests/package/run.sh)
  set_tests_properties(package PROPERTIES
    ENVIRONMENT "SWITCHBOARD_BIN=$<TARGET_FILE:switchboard>;SWITCHBOARD_BUILD_DIR=${CMAKE_BINARY_DIR}"
    TIMEOUT 1800)
endif()
